"""Helpers for the template tests: load a (SAM) template with its short-form
intrinsic tags, merge SAM Globals into functions, and evaluate the small set of
intrinsic functions the templates use for conditions and computed lists, so a
test can check what CloudFormation would make of given parameter values."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that turns `!Ref x` into `{"Ref": "x"}`, `!Sub s` into
    `{"Fn::Sub": s}` and so on, the way CloudFormation reads them."""


def _construct_tag(loader: _CfnLoader, suffix: str, node: yaml.Node) -> dict:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load(relative_path: str) -> dict:
    with open(ROOT / relative_path, encoding="utf-8") as f:
        return yaml.load(f, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


def functions(template: dict) -> dict[str, dict]:
    """Every AWS::Serverless::Function with the Globals merged in (maps merge,
    function values win), as SAM does."""
    globals_ = template.get("Globals", {}).get("Function", {})
    found = {}
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        merged = copy.deepcopy(resource)
        merged["Properties"] = _merge(copy.deepcopy(globals_), resource.get("Properties", {}))
        found[name] = merged
    return found


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = _merge(base.get(key), value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(override)


def resources_of_type(template: dict, type_name: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_name}


def parameter_defaults(template: dict) -> dict[str, Any]:
    values = {}
    for name, spec in template.get("Parameters", {}).items():
        if "Default" not in spec:
            continue
        default = spec["Default"]
        if spec["Type"] == "CommaDelimitedList" or spec["Type"].startswith("List<"):
            default = [part.strip() for part in str(default).split(",")]
        values[name] = default
    return values


class Evaluator:
    """Evaluates Ref, Condition, Fn::If/Equals/Not/And/Or, Fn::Join, Fn::Split,
    Fn::Select, Fn::Sub and Fn::FindInMap against parameter values and pseudo
    parameters. Anything else (GetAtt, Refs to resources) is left as is."""

    def __init__(self, template: dict, parameters: dict[str, Any], partition: str = "aws",
                 region: str = "eu-west-1", account: str = "123456789012", stack: str = "link"):
        self.template = template
        self.values: dict[str, Any] = parameter_defaults(template)
        for name, value in parameters.items():
            spec = template["Parameters"][name]
            if isinstance(value, str) and (spec["Type"] == "CommaDelimitedList" or spec["Type"].startswith("List<")):
                value = [part.strip() for part in value.split(",")]
            self.values[name] = value
        self.values.update({
            "AWS::Partition": partition,
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::StackName": stack,
            "AWS::NoValue": _NO_VALUE,
        })
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.eval(self.template["Conditions"][name]))
        return self._conditions[name]

    def eval(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.eval(item) for item in node) if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            handler = _HANDLERS.get(key)
            if handler is not None:
                return handler(self, arg)
        return {k: self.eval(v) for k, v in node.items()}


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


_NO_VALUE = _NoValue()


def _ref(ev: Evaluator, name: str) -> Any:
    if name in ev.values:
        return ev.values[name]
    return {"Ref": name}  # a resource


def _if(ev: Evaluator, arg: list) -> Any:
    name, yes, no = arg
    return ev.eval(yes if ev.condition(name) else no)


def _equals(ev: Evaluator, arg: list) -> bool:
    left, right = (ev.eval(a) for a in arg)
    return str(left) == str(right)


def _join(ev: Evaluator, arg: list) -> str:
    delimiter, items = arg
    items = ev.eval(items)
    return delimiter.join(str(i) for i in items)


def _split(ev: Evaluator, arg: list) -> list:
    delimiter, text = arg
    return str(ev.eval(text)).split(delimiter)


def _select(ev: Evaluator, arg: list) -> Any:
    index, items = arg
    return ev.eval(items)[int(ev.eval(index))]


def _sub(ev: Evaluator, arg: Any) -> str:
    if isinstance(arg, list):
        text, extra = arg
        variables = {k: ev.eval(v) for k, v in extra.items()}
    else:
        text, variables = arg, {}

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in variables:
            return str(variables[name])
        value = _ref(ev, name)
        return str(value) if not isinstance(value, dict) else "${" + name + "}"

    return re.sub(r"\$\{([^}]+)\}", replace, text)


def _find_in_map(ev: Evaluator, arg: list) -> Any:
    mapping, first, second = (ev.eval(a) for a in arg)
    return ev.template["Mappings"][mapping][first][second]


_HANDLERS = {
    "Ref": _ref,
    "Condition": lambda ev, name: ev.condition(name),
    "Fn::If": _if,
    "Fn::Equals": _equals,
    "Fn::Not": lambda ev, arg: not ev.eval(arg[0]),
    "Fn::And": lambda ev, arg: all(ev.eval(a) for a in arg),
    "Fn::Or": lambda ev, arg: any(ev.eval(a) for a in arg),
    "Fn::Join": _join,
    "Fn::Split": _split,
    "Fn::Select": _select,
    "Fn::Sub": _sub,
    "Fn::FindInMap": _find_in_map,
}


def created(template: dict, ev: Evaluator) -> dict[str, dict]:
    """The resources CloudFormation creates for the evaluator's parameters."""
    return {name: r for name, r in template["Resources"].items() if "Condition" not in r or ev.condition(r["Condition"])}


def created_outputs(template: dict, ev: Evaluator) -> dict[str, dict]:
    return {name: o for name, o in template.get("Outputs", {}).items() if "Condition" not in o or ev.condition(o["Condition"])}


def references(node: Any) -> set[str]:
    """Every name a (partly evaluated) node refers to: Ref, Fn::GetAtt and
    ${Name} or ${Name.Attribute} inside Fn::Sub strings."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= references(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else str(value).split(".", 1)[0])
            elif key == "Fn::Sub":
                text, variables = (value[0], value[1]) if isinstance(value, list) else (value, {})
                for name in re.findall(r"\$\{([^}!]+)\}", text):
                    if name not in variables:
                        found.add(name.split(".", 1)[0])
                found |= references(variables)
            else:
                found |= references(value)
    return found


_MISSING = object()


def event_pattern_matches(pattern: dict, event: Any) -> bool:
    """EventBridge's matching for the parts of the event pattern language the
    template uses: a field matches a list of exact values, an object matches a
    nested pattern, and "$or" needs one of its patterns to match at that level.
    Any other operator (prefix, anything-but, ...) raises, so that a template
    using one fails its tests until this learns it."""
    if not isinstance(event, dict):
        return False
    for key, rule in pattern.items():
        if key == "$or":
            if not any(event_pattern_matches(alternative, event) for alternative in rule):
                return False
        elif isinstance(rule, dict):
            if not event_pattern_matches(rule, event.get(key)):
                return False
        elif isinstance(rule, list):
            for allowed in rule:
                if isinstance(allowed, (dict, list)):
                    raise NotImplementedError(f"event pattern operator {allowed} at {key}")
            value = event.get(key, _MISSING)
            values = value if isinstance(value, list) else [value]
            if not any(v is not _MISSING and v in rule for v in values):
                return False
        else:
            raise ValueError(f"event pattern field {key} must be a list or an object, not {rule!r}")
    return True
