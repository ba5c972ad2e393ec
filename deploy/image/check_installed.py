"""Run once while building the image, as root: import every adaptml module, which writes the bytecode of adaptml and
of every dependency module it imports (the environment was installed with --no-compile, so modules that nothing
imports stay source-only), and check that each AWS service adaptml creates a boto3 client for kept its botocore
model through the image's trim (deploy/image/slim-site-packages.sh)."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import botocore.session

import adaptml

CLIENT_CALL = re.compile(r"""\.client\(\s*["']([a-z0-9-]+)["']""")


def import_everything() -> int:
    names = [m.name for m in pkgutil.walk_packages(adaptml.__path__, "adaptml.") if not m.name.endswith("__main__")]
    for name in names:
        importlib.import_module(name)
    return len(names)


def missing_aws_models() -> set[str]:
    root = Path(adaptml.__file__).parent
    used = {match for path in root.rglob("*.py") for match in CLIENT_CALL.findall(path.read_text())}
    return used - set(botocore.session.get_session().get_available_services())


if __name__ == "__main__":
    count = import_everything()
    missing = missing_aws_models()
    if missing:
        raise SystemExit(f"botocore models trimmed away but used by adaptml: {sorted(missing)}; keep them in "
                         "KEEP_AWS_SERVICES (deploy/image/slim-site-packages.sh)")
    print(f"imported {count} adaptml modules; every AWS service adaptml calls has its botocore model")
