#!/bin/sh
# Prints a compose .env with every credential and secret docker-compose.yml requires, each freshly random:
#   sh deploy/compose/make-env.sh > .env && chmod 600 .env
# Keep the file out of version control. With Ed25519 signing, give the pipeline the private key and the app only the
# public one (see deploy/compose.md).
set -eu
random() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
cat <<ENV
MINIO_ROOT_USER=root-$(random 4)
MINIO_ROOT_PASSWORD=$(random 24)
ADAPTML_PUBLISHER_ACCESS_KEY=publisher-$(random 4)
ADAPTML_PUBLISHER_SECRET_KEY=$(random 24)
ADAPTML_READER_ACCESS_KEY=reader-$(random 4)
ADAPTML_READER_SECRET_KEY=$(random 24)
ADAPTML_SIGNING_KEY=$(random 32)
ADAPTML_RELOAD_SECRET=$(random 32)
ADAPTML_WEBHOOK_TOKEN=$(random 32)
ENV
