"""The part of template.yaml's full-producer stack that `nlb-target-sync
doctor` checks, evaluated for given parameter values (every other parameter at
its default): the load balancer and its security group, the target group, the
listener, the endpoint service and its permissions, each with its Properties as
CloudFormation would receive them. References to other resources of the stack
stay `{"Ref": name}`.

The integration test `template_defaults_pass_every_check`
(tests/tests/doctor.rs) builds these in the AWS stand-in and runs doctor on
them; the template tests check that this is the whole of what doctor reads:

    python tests/template/full_producer.py VpcId=vpc-1 SubnetIds=subnet-a,subnet-b \\
        Sources=rds-cluster:orders:writer [--account 123456789012] [--region us-east-1]

prints {"parameters": {name: value}, "resources": {name: {"Type", "Properties"}}}.
"""

from __future__ import annotations

import argparse
import json
import sys

from cfn_helpers import Evaluator, created, load

# What doctor reads of the stack: ELB's load balancer, target group and
# listener, the load balancer's security groups, the VPC endpoint service and
# who may connect to it.
CHECKED_TYPES = {
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ElasticLoadBalancingV2::TargetGroup",
    "AWS::ElasticLoadBalancingV2::Listener",
    "AWS::EC2::VPCEndpointService",
    "AWS::EC2::VPCEndpointServicePermissions",
}


def render(parameters: dict[str, str], account: str = "123456789012", region: str = "us-east-1") -> dict:
    template = load("template.yaml")
    ev = Evaluator(template, parameters, account=account, region=region)
    stack = created(template, ev)
    names = {name for name, r in stack.items() if r["Type"] in CHECKED_TYPES}
    # The load balancer's own security groups.
    for name in list(names):
        for group in stack[name].get("Properties", {}).get("SecurityGroups", []):
            if isinstance(group, dict) and "Ref" in group:
                names.add(group["Ref"])
    resources = {
        name: {"Type": stack[name]["Type"], "Properties": ev.eval(stack[name].get("Properties", {}))}
        for name in sorted(names)
    }
    return {"parameters": {k: v for k, v in ev.values.items() if not k.startswith("AWS::")}, "resources": resources}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parameters", nargs="*", metavar="Name=Value")
    parser.add_argument("--account", default="123456789012")
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args(argv)
    parameters = {}
    for pair in args.parameters:
        name, sep, value = pair.partition("=")
        if not sep:
            parser.error(f"expected Name=Value, got {pair!r}")
        parameters[name] = value
    json.dump(render(parameters, args.account, args.region), sys.stdout, indent=2, default=str)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
