from adaptml.cli import main

main()
