"""Fresh models without a restart: the S3-event Lambda, its local runner and the app's reload hooks."""
