#!/bin/sh
# One-shot MinIO setup for docker-compose (runs in the minio/mc image, as MinIO's root user); safe to run again.
#  1. the bucket, 2. the bundled example datasets under data/, 3. the bucket notification that sends every
#  ObjectCreated of <registry prefix>/<project>/LATEST to the webhook target ADAPTML (the reload service),
#  4. two users with policies on this bucket only: the publisher (read-write: the pipeline) and the reader (read-only:
#  the app and the webhook), so that a compromised app cannot write the registry.
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

# policy NAME ACTIONS...: a policy allowing ACTIONS on the bucket's objects, plus listing the bucket.
policy() {
    name=$1
    shift
    actions=$(printf '"s3:%s",' "$@")
    file="/tmp/$name.json"
    cat > "$file" <<JSON
{"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"], "Resource": ["arn:aws:s3:::$BUCKET"]},
  {"Effect": "Allow", "Action": [${actions%,}], "Resource": ["arn:aws:s3:::$BUCKET/*"]}
]}
JSON
    mc admin policy create local "$name" "$file"
}

# user NAME ACCESS_KEY SECRET_KEY POLICY: create (or update) the user and attach the policy (idempotent).
user() {
    mc admin user add local "$2" "$3"
    mc admin policy attach local "$4" --user "$2" 2>/dev/null || echo "policy $4 already attached to $1"
}

policy adaptml-publisher GetObject PutObject DeleteObject AbortMultipartUpload
policy adaptml-reader GetObject
user publisher "$PUBLISHER_ACCESS_KEY" "$PUBLISHER_SECRET_KEY" adaptml-publisher
user reader "$READER_ACCESS_KEY" "$READER_SECRET_KEY" adaptml-reader
