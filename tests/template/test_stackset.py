"""The StackSets route: stacksets/expand_template.py turns template.yaml into
plain CloudFormation (service-managed StackSets refuse the SAM transform).
`.ci/template-checks` also runs cfn-lint on its output."""

from __future__ import annotations

import copy
import json
import sys

import pytest
from samtranslator.yaml_helper import yaml_parse

from cfn_helpers import ROOT

sys.path.insert(0, str(ROOT / "stacksets"))
import expand_template  # noqa: E402

SAM = yaml_parse((ROOT / "template.yaml").read_text())
BUCKET = "acme-lambda-code-${AWS::Region}"
EXPANDED = expand_template.expand(SAM, BUCKET, "nlb-target-sync/0.1.0")
BINARIES = {
    name: r["Metadata"]["BuildProperties"]["Binary"]
    for name, r in SAM["Resources"].items()
    if r["Type"] == "AWS::Serverless::Function"
}


def test_no_transform_and_no_sam_resource_is_left():
    assert "Transform" not in EXPANDED
    kinds = {r["Type"] for r in EXPANDED["Resources"].values()}
    assert not [k for k in kinds if k.startswith("AWS::Serverless::")], kinds
    assert "AWS::ServerlessRepo::Application" not in EXPANDED.get("Metadata", {})


def test_every_function_reads_its_zip_from_the_regional_bucket():
    assert BINARIES
    for name, binary in BINARIES.items():
        function = EXPANDED["Resources"][name]
        assert function["Type"] == "AWS::Lambda::Function"
        assert function["Properties"]["Code"] == {
            "S3Bucket": {"Fn::Sub": BUCKET},
            "S3Key": f"nlb-target-sync/0.1.0/{binary}.zip",
        }
        assert function["Properties"]["Architectures"] == ["arm64"]


def test_both_shapes_stay_and_functions_only_is_the_default():
    assert EXPANDED["Parameters"].keys() == SAM["Parameters"].keys()
    assert EXPANDED["Conditions"].keys() == SAM["Conditions"].keys()
    assert EXPANDED["Rules"] == SAM["Rules"]
    assert EXPANDED["Parameters"]["StackShape"]["Default"] == "functions-only"
    for name, resource in SAM["Resources"].items():
        if "Condition" in resource:
            assert EXPANDED["Resources"][name]["Condition"] == resource["Condition"], name
    assert EXPANDED["Outputs"]["ServiceToken"]["Export"] == SAM["Outputs"]["ServiceToken"]["Export"]


def test_nothing_depends_on_the_region_or_partition_it_was_expanded_in():
    text = json.dumps(EXPANDED)
    assert expand_template.PLACEHOLDER_REGION not in text
    assert "arn:aws:iam::aws:policy/" not in text
    roles = [r for r in EXPANDED["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    assert len(roles) == len(BINARIES)
    for role in roles:
        for arn in role["Properties"]["ManagedPolicyArns"]:
            assert arn["Fn::Sub"].startswith("arn:${AWS::Partition}:iam::aws:policy/service-role/"), arn


def test_network_parameters_can_come_from_ssm_in_each_account():
    expanded = expand_template.expand(SAM, BUCKET, "p", ssm_prefix="/nlb-target-sync")
    parameters = expanded["Parameters"]
    assert parameters["VpcId"]["Type"] == "AWS::SSM::Parameter::Value<AWS::EC2::VPC::Id>"
    assert parameters["VpcId"]["Default"] == "/nlb-target-sync/vpc-id"
    assert parameters["SubnetIds"]["Type"] == "AWS::SSM::Parameter::Value<List<AWS::EC2::Subnet::Id>>"
    assert parameters["SubnetIds"]["Default"] == "/nlb-target-sync/subnet-ids"
    assert "Parameter::Value" not in json.dumps(EXPANDED["Parameters"]), "only when asked"


def test_what_cannot_be_expanded_offline_is_refused_with_the_reason():
    with_named_policy = copy.deepcopy(SAM)
    with_named_policy["Resources"]["SyncOnDeployFunction"]["Properties"]["Policies"].append("PolicyOnlyIamKnows")
    with pytest.raises(expand_template.ExpandError, match="managed policy"):
        expand_template.expand(with_named_policy, BUCKET, "p")
    unnamed = copy.deepcopy(SAM)
    del unnamed["Resources"]["SyncOnDeployFunction"]["Metadata"]["BuildProperties"]
    with pytest.raises(expand_template.ExpandError, match="SyncOnDeployFunction"):
        expand_template.expand(unnamed, BUCKET, "p")
    with pytest.raises(expand_template.ExpandError, match="StackShape"):
        expand_template.expand(SAM, BUCKET, "p", shape="everything")
