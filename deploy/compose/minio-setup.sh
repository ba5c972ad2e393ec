#!/bin/sh
# One-shot MinIO setup for docker-compose (runs in the minio/mc image); safe to run again.
#  1. the bucket, 2. the bundled example datasets under data/, 3. the bucket notification that sends every
#  ObjectCreated of <registry prefix>/<project>/LATEST to the webhook target ADAPTML (the reload service).
set -eu

: "${MINIO_URL:=http://minio:9000}"
: "${BUCKET:=adaptml-demo}"
: "${REGISTRY_PREFIX:=registry}"
: "${DATASETS_DIR:=/datasets}"
ARN="arn:minio:sqs::ADAPTML:webhook"

mc alias set local "$MINIO_URL" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"
mc mb --ignore-existing "local/$BUCKET"
for dataset in "$DATASETS_DIR"/*.csv.gz; do
    mc cp "$dataset" "local/$BUCKET/data/$(basename "$dataset")"
done
if mc event ls "local/$BUCKET" "$ARN" | grep -q "LATEST"; then
    echo "notification for $REGISTRY_PREFIX/*/LATEST already configured"
else
    mc event add "local/$BUCKET" "$ARN" --event put --prefix "$REGISTRY_PREFIX/" --suffix "/LATEST"
fi
mc event ls "local/$BUCKET"
