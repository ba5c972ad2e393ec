#!/bin/sh
# Prints a compose .env with every credential and secret docker-compose.yml requires, each freshly random:
#   sh deploy/compose/make-env.sh > .env && chmod 600 .env
# Keep the file out of version control. The pipeline gets the Ed25519 private key, the app only the public one
# (see deploy/compose.md); both are base64 of the raw 32 bytes, made with openssl.
set -eu
random() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
private_der=$(mktemp)
trap 'rm -f "$private_der"' EXIT
openssl genpkey -algorithm ed25519 -outform DER -out "$private_der"
signing_key=$(tail -c 32 "$private_der" | base64)
verify_key=$(openssl pkey -inform DER -in "$private_der" -pubout -outform DER | tail -c 32 | base64)
cat <<ENV
MINIO_ROOT_USER=root-$(random 4)
MINIO_ROOT_PASSWORD=$(random 24)
ADAPTML_PUBLISHER_ACCESS_KEY=publisher-$(random 4)
ADAPTML_PUBLISHER_SECRET_KEY=$(random 24)
ADAPTML_READER_ACCESS_KEY=reader-$(random 4)
ADAPTML_READER_SECRET_KEY=$(random 24)
ADAPTML_SIGNING_KEY=$signing_key
ADAPTML_VERIFY_KEY=$verify_key
ADAPTML_RELOAD_SECRET=$(random 32)
ADAPTML_WEBHOOK_TOKEN=$(random 32)
ENV
