from __future__ import annotations

import gzip
import io

import boto3
import pandas as pd
import pytest

from adaptml.datasets import BUNDLED, bundled_path, read_bundled, seed
from adaptml.errors import BucketNotFound, DataError, EndpointUnreachable, ObjectNotFound
from adaptml.storage import S3Uri, Storage, read_table


def test_plain_boto3_client_talks_to_embedded_server(s3_server):
    client = boto3.client("s3", endpoint_url=s3_server.endpoint)
    client.create_bucket(Bucket="plain")
    client.put_object(Bucket="plain", Key="a/b.txt", Body=b"hello")
    assert client.get_object(Bucket="plain", Key="a/b.txt")["Body"].read() == b"hello"
    listed = client.list_objects_v2(Bucket="plain", Prefix="a/")
    assert [o["Key"] for o in listed["Contents"]] == ["a/b.txt"]
    head = client.head_object(Bucket="plain", Key="a/b.txt")
    assert head["ETag"].strip('"') == "5d41402abc4b2a76b9719d911017c592"  # md5("hello")


def test_put_get_list_exists_etag(storage, bucket):
    uri = f"s3://{bucket}/dir/x.json"
    etag = storage.put_text(uri, '{"a": 1}', content_type="application/json")
    assert storage.get_text(uri) == '{"a": 1}'
    assert storage.exists(uri)
    assert storage.etag(uri) == etag
    assert not storage.exists(f"s3://{bucket}/dir/missing")
    storage.put_bytes(f"s3://{bucket}/dir/y.bin", b"\x00")
    assert storage.list(f"s3://{bucket}/dir/") == [f"s3://{bucket}/dir/x.json", f"s3://{bucket}/dir/y.bin"]


def test_upload_and_download_file(storage, bucket, tmp_path):
    src = tmp_path / "in.bin"
    src.write_bytes(b"payload" * 1000)
    storage.upload_file(src, f"s3://{bucket}/f.bin")
    storage.download_file(f"s3://{bucket}/f.bin", tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == src.read_bytes()


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_dataset_round_trips_through_s3(storage, bucket, name):
    uri = seed(f"s3://{bucket}/data/{name}.csv.gz", storage=storage)
    from_s3 = storage.read_dataset(uri)
    pd.testing.assert_frame_equal(from_s3, read_bundled(name))


def test_bundled_shapes():
    assert read_bundled("hotel_rates").shape == (15402, 28)
    assert read_bundled("adult").shape[0] == 32561


def test_parquet_and_plain_csv(storage, bucket):
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    buf = io.BytesIO()
    frame.to_parquet(buf)
    storage.put_bytes(f"s3://{bucket}/t.parquet", buf.getvalue())
    storage.put_text(f"s3://{bucket}/t.csv", frame.to_csv(index=False))
    storage.put_bytes(f"s3://{bucket}/t.csv.gz", gzip.compress(frame.to_csv(index=False).encode()))
    for key in ("t.parquet", "t.csv", "t.csv.gz"):
        got = storage.read_dataset(f"s3://{bucket}/{key}")
        assert got["a"].tolist() == [1, 2]
        assert got["b"].astype(str).tolist() == ["x", "y"]


def test_missing_bucket_is_one_line(storage):
    with pytest.raises(BucketNotFound) as info:
        storage.get_bytes("s3://no-such-bucket-xyz/key")
    assert str(info.value).startswith("bucket not found: no-such-bucket-xyz")
    assert "\n" not in str(info.value)


def test_missing_key_is_one_line(storage, bucket):
    with pytest.raises(ObjectNotFound) as info:
        storage.read_dataset(f"s3://{bucket}/nope.csv")
    assert str(info.value).startswith(f"object not found: s3://{bucket}/nope.csv")


def test_unreachable_endpoint_is_one_line():
    client = boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        config=boto3.session.Config(connect_timeout=1, retries={"max_attempts": 1}),
    )
    with pytest.raises(EndpointUnreachable) as info:
        Storage(client).get_bytes("s3://b/k")
    assert str(info.value) == "S3 endpoint unreachable: http://127.0.0.1:9 (while accessing s3://b/k)"


def test_read_table_rejects_non_tables():
    with pytest.raises(DataError, match="the file is empty"):
        read_table(b"", name="x.csv")
    with pytest.raises(DataError, match="not a readable table"):
        read_table(b"\x89PNG\r\n\x1a\n\x00\x00garbage", name="x.parquet")


def test_s3uri_parse_and_join():
    uri = S3Uri.parse("s3://b/reg")
    assert str(uri.join("p", "LATEST")) == "s3://b/reg/p/LATEST"
    assert uri.join("x/").name == "x"
    assert bundled_path("adult").name == "adult.csv.gz"
