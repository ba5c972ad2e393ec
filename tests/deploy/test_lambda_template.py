"""The SAM template, translated by AWS's own SAM translator into the CloudFormation it deploys."""

from __future__ import annotations

import copy
import importlib
import inspect
from typing import Any

import pytest
from cfnlint.decode import decode
from samtranslator.translator.transform import transform

from adaptml.reload import handler as lambda_handler
from adaptml.reload.signing import SECRET_PARAM_ENV

from .manifests import SAM_TEMPLATE


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    template, matches = decode(str(SAM_TEMPLATE))
    assert not matches
    return dict(template)


@pytest.fixture(scope="module")
def resources(source, monkeypatch_module) -> dict[str, Any]:
    monkeypatch_module.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    packaged = copy.deepcopy(source)
    packaged["Resources"]["ReloadNotifier"]["Properties"]["CodeUri"] = "s3://artifacts/adaptml.zip"  # `sam package`
    parameters = {"RegistryBucketName": "models", "ReloadTargets": "https://app.example"}
    translated = transform(packaged, parameters, _NoManagedPolicies())
    return dict(translated["Resources"])


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_the_handler_is_the_packaged_lambda_entry_point(resources):
    function = resources["ReloadNotifier"]["Properties"]
    module, _, name = function["Handler"].rpartition(".")
    entry = getattr(importlib.import_module(module), name)
    assert entry is lambda_handler.handler and list(inspect.signature(entry).parameters) == ["event", "context"]
    assert function["Runtime"] == "python3.11"
    variables = set(function["Environment"]["Variables"])
    assert variables == {lambda_handler.TARGETS_ENV, SECRET_PARAM_ENV, lambda_handler.PREFIX_ENV}


def test_the_trigger_is_object_created_on_latest_keys_only(resources):
    (notification,) = resources["RegistryBucket"]["Properties"]["NotificationConfiguration"]["LambdaConfigurations"]
    assert notification["Event"] == "s3:ObjectCreated:*"
    rules = {rule["Name"]: rule["Value"] for rule in notification["Filter"]["S3Key"]["Rules"]}
    assert rules == {"prefix": {"Fn::Sub": "${RegistryPrefix}/"}, "suffix": "/LATEST"}
    permission = next(r for r in resources.values() if r["Type"] == "AWS::Lambda::Permission")["Properties"]
    assert permission["Principal"] == "s3.amazonaws.com" and "SourceAccount" in permission


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    if "Fn::If" in policy:
        return _statements(policy["Fn::If"][1])
    return list(policy["PolicyDocument"]["Statement"])


def test_the_role_is_least_privilege(resources):
    role = resources["ReloadNotifierRole"]["Properties"]
    assert role["ManagedPolicyArns"] == ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
    statements = [s for policy in role["Policies"] for s in _statements(policy)]
    grants = {s["Action"]: s for s in statements}
    assert set(grants) == {"s3:GetObject", "ssm:GetParameter", "kms:Decrypt"}
    assert all(s["Effect"] == "Allow" and s["Resource"] != "*" for s in statements)
    assert grants["s3:GetObject"]["Resource"]["Fn::Sub"].endswith(
        ":s3:::${RegistryBucketName}/${RegistryPrefix}/*/LATEST"
    )
    assert grants["ssm:GetParameter"]["Resource"]["Fn::Sub"].endswith(":parameter${ReloadSecretParameterName}")
    assert grants["kms:Decrypt"]["Condition"]["StringEquals"]["kms:ViaService"]
    kms_policy = next(p for p in role["Policies"] if "Fn::If" in p)
    assert kms_policy["Fn::If"][0] == "HasCustomerKey"  # only with a customer-managed key
