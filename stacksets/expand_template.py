#!/usr/bin/env python3
"""Writes template.yaml as plain CloudFormation, without the SAM transform.

Service-managed CloudFormation StackSets (the ones that deploy to every account
of an organisation or OU) do not accept templates that use macros, and the SAM
transform is one. This script runs the same translator the transform runs
(PyPI's aws-sam-translator, which cfn-lint and aws-sam-cli install), offline,
after doing what `sam package` does to each function's CodeUri: pointing it at
a zip in S3.

    python3 stacksets/expand_template.py \\
        --code-bucket 'acme-lambda-code-${AWS::Region}' \\
        --code-prefix nlb-target-sync/0.1.0 \\
        --network-from-ssm /nlb-target-sync \\
        --output nlb-target-sync-stackset.yaml

Each function's code is then read from
s3://<code bucket>/<code prefix>/<binary>.zip (for example sync-on-deploy.zip,
the `bootstrap` from `sam build` zipped at the root). `${AWS::Region}` and
`${AWS::AccountId}` in the bucket name are resolved by CloudFormation in each
target account: Lambda reads code only from a bucket in its own Region, so
give every Region its own bucket, readable by the organisation.

The result keeps every parameter and condition of template.yaml, with the
StackShape default changed to --shape (functions-only unless told).
With --network-from-ssm PREFIX, VpcId and SubnetIds become SSM parameter
references (PREFIX/vpc-id and PREFIX/subnet-ids by default), so that one set of
StackSet parameters fits every account: each account stores its own VPC and
subnets under those names.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.public.exceptions import InvalidDocumentException
from samtranslator.translator.translator import Translator
from samtranslator.utils.py27hash_fix import to_py27_compatible_template, undo_mark_unicode_str_in_template
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[1]
SHAPES = ("functions-only", "full-producer")
SSM_TYPES = {
    "VpcId": "AWS::SSM::Parameter::Value<AWS::EC2::VPC::Id>",
    "SubnetIds": "AWS::SSM::Parameter::Value<List<AWS::EC2::Subnet::Id>>",
}
SSM_NAMES = {"VpcId": "vpc-id", "SubnetIds": "subnet-ids"}
# Used for the translator's pseudo parameters when no Region is configured.
PLACEHOLDER_REGION = "us-east-1"


class ExpandError(Exception):
    """The template cannot be expanded; the message says why and what to change."""


class NoManagedPolicyNames:
    """The translator knows the names of AWS managed policies from a list it
    ships; it asks for this map only for a name not on that list, which `sam
    deploy` would look up in IAM. Offline that would be a guess, so such a
    template is refused."""

    def load(self) -> dict[str, str]:
        raise ExpandError(
            "a function's Policies name a managed policy the translator does not know; give its ARN instead "
            "(the expansion runs offline and cannot look names up in IAM)"
        )


def partition_neutral(arn: Any) -> Any:
    """`arn:aws:iam::aws:policy/X` (the translator writes the partition of the
    Region it ran for) as `arn:${AWS::Partition}:iam::aws:policy/X`."""
    if isinstance(arn, str) and arn.startswith("arn:") and ":iam::aws:policy/" in arn:
        return {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/" + arn.split(":iam::aws:policy/", 1)[1]}
    return arn


def code_location(function: str, resource: dict[str, Any], bucket: str, prefix: str) -> dict[str, Any]:
    """What `sam package` would put in CodeUri: the S3 object holding this
    function's zip, named after its binary."""
    binary = resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
    if not binary:
        raise ExpandError(f"{function}: no Metadata.BuildProperties.Binary to name its zip after")
    key = f"{prefix.strip('/')}/{binary}.zip" if prefix.strip("/") else f"{binary}.zip"
    return {"Bucket": {"Fn::Sub": bucket} if "${" in bucket else bucket, "Key": key}


def packaged(template: dict[str, Any], bucket: str, prefix: str) -> dict[str, Any]:
    """A copy of the SAM template with every function's code in S3."""
    out = copy.deepcopy(template)
    for name, resource in out.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        resource.setdefault("Properties", {})["CodeUri"] = code_location(name, resource, bucket, prefix)
    return out


def with_defaults(template: dict[str, Any], shape: str, ssm_prefix: str | None) -> dict[str, Any]:
    """Sets the StackShape default and, with an SSM prefix, turns VpcId and
    SubnetIds into SSM parameter references."""
    out = copy.deepcopy(template)
    parameters = out.get("Parameters", {})
    if "StackShape" not in parameters:
        raise ExpandError("the template has no StackShape parameter")
    if shape not in parameters["StackShape"].get("AllowedValues", []):
        raise ExpandError(f"StackShape does not allow '{shape}'")
    parameters["StackShape"]["Default"] = shape
    if ssm_prefix is not None:
        for name, ssm_type in SSM_TYPES.items():
            spec = parameters[name]
            spec["Type"] = ssm_type
            spec["Default"] = f"{ssm_prefix.rstrip('/')}/{SSM_NAMES[name]}"
            spec["Description"] = f"Name of the SSM parameter holding {name} in each account. " + spec.get(
                "Description", ""
            )
    return out


def expand(
    template: dict[str, Any], bucket: str, prefix: str, shape: str = "functions-only", ssm_prefix: str | None = None
) -> dict[str, Any]:
    """The plain CloudFormation for `template` (a parsed SAM template)."""
    if template.get("Transform") != "AWS::Serverless-2016-10-31":
        raise ExpandError("not a SAM template (Transform: AWS::Serverless-2016-10-31)")
    sam = with_defaults(packaged(template, bucket, prefix), shape, ssm_prefix)
    # The translator wants a Region for its pseudo parameters (it derives the
    # partition of managed policy ARNs from it); none may end up in the result.
    region = boto3.session.Session().region_name or PLACEHOLDER_REGION
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    parameters: dict[str, Any] = {}
    try:
        to_py27_compatible_template(sam, parameters)
        expanded = translator.translate(sam, parameters, get_managed_policy_map=NoManagedPolicyNames().load)
        expanded = undo_mark_unicode_str_in_template(expanded)
    except InvalidDocumentException as e:
        causes = "; ".join(str(c) for c in e.causes)
        raise ExpandError(f"the SAM translator refused the template: {causes}") from e
    for resource in expanded.get("Resources", {}).values():
        if resource.get("Type") == "AWS::IAM::Role":
            arns = resource.get("Properties", {}).get("ManagedPolicyArns", [])
            resource["Properties"]["ManagedPolicyArns"] = [partition_neutral(arn) for arn in arns]
    if region in json.dumps(expanded):
        raise ExpandError(f"the translated template names the Region {region}; it must work in every Region")
    # Publishing metadata belongs to the SAM template; a StackSet has no use for it.
    expanded.get("Metadata", {}).pop("AWS::ServerlessRepo::Application", None)
    for resource in expanded.get("Resources", {}).values():
        # Build hints for `sam build` (BuildMethod, Binary) mean nothing here.
        metadata = resource.get("Metadata", {})
        for key in ("BuildMethod", "BuildProperties", "SamResourceId"):
            metadata.pop(key, None)
        if not metadata:
            resource.pop("Metadata", None)
    return expanded


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", default=str(ROOT / "template.yaml"), help="the SAM template (template.yaml)")
    parser.add_argument(
        "--code-bucket",
        default="nlb-target-sync-code-${AWS::Region}",
        help="bucket holding the function zips; may contain ${AWS::Region} and ${AWS::AccountId}",
    )
    parser.add_argument("--code-prefix", default=None, help="key prefix of the zips (default nlb-target-sync/<version>)")
    parser.add_argument("--shape", choices=SHAPES, default="functions-only", help="default StackShape of the result")
    parser.add_argument(
        "--network-from-ssm", metavar="PREFIX", default=None, help="read VpcId and SubnetIds from SSM under PREFIX"
    )
    parser.add_argument("--output", default="-", help="file to write (default: standard output)")
    args = parser.parse_args(argv)

    try:
        template = yaml_parse(Path(args.template).read_text(encoding="utf-8"))
        version = template.get("Metadata", {}).get("AWS::ServerlessRepo::Application", {}).get("SemanticVersion")
        prefix = args.code_prefix if args.code_prefix is not None else f"nlb-target-sync/{version or 'latest'}"
        expanded = expand(template, args.code_bucket, prefix, args.shape, args.network_from_ssm)
    except (OSError, ExpandError) as e:
        print(f"expand_template: {e}", file=sys.stderr)
        return 1
    text = json.dumps(expanded, indent=2) + "\n"
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
