"""Independent checks of an exported bundle against FHIR R4 itself (not the app's R4B models).

- `r4_schema_validator()`: the official R4 JSON Schema (fhir.schema.json, id
  http://hl7.org/fhir/json-schema/4.0, draft-06) that scripts/install_test_deps.sh puts into the
  test cache; Python's jsonschema validates with it. Missing: skip locally, fail under CI.
- `unresolved_references()`: every `reference` must be the fullUrl of an entry (bundle rules:
  relative references resolve only against RESTful fullUrls, so this bundle uses urn:uuid).
- `invalid_ucum_units()`: every Observation (and component) valueQuantity has system UCUM and a
  code the ucumvert parser (PyPI, built from the UCUM essence file) accepts.
- `spec_definition_errors()`: FHIR.js (npm `fhir` 4.12.0, Apache-2.0; R4 by default) validates
  every resource against the specification's own StructureDefinitions (element types, cardinality,
  unknown elements, value sets it carries) — a second, independent validator beside the schema.
  Installed into the test cache by npm on first use.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from core.care.fhir import UCUM, bundle_references

SCHEMA_SHA256 = "15b9548af6412c44faaa411456e0652542de286fd1c58ef882b09bdc8947909d"


def _cache_dir() -> Path:
    explicit = os.environ.get("CLINIC_TEST_CACHE")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "clinic-portal"


def schema_path() -> Path:
    return _cache_dir() / "fhir-r4" / "fhir.schema.json"


def _missing(what: str) -> None:
    message = f"{what} is missing: run `bash scripts/install_test_deps.sh` (or `make test`)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@functools.cache
def _load_validator(path: str) -> Any:
    from jsonschema import Draft6Validator

    raw = Path(path).read_bytes()
    if hashlib.sha256(raw).hexdigest() != SCHEMA_SHA256:
        raise AssertionError(f"{path} is not the expected FHIR R4 schema (sha256 differs)")
    schema = json.loads(raw)
    assert schema["id"] == "http://hl7.org/fhir/json-schema/4.0"
    return Draft6Validator(schema)


def r4_schema_validator() -> Any:
    path = schema_path()
    if not path.is_file():
        _missing(f"the FHIR R4 JSON Schema ({path})")
    return _load_validator(str(path))


def schema_errors(bundle: dict[str, Any]) -> list[str]:
    """Schema errors of the bundle and, for readable messages, of each entry's resource alone."""
    validator = r4_schema_validator()
    errors = [f"Bundle: {e.message[:300]}" for e in validator.iter_errors(bundle)]
    for index, entry in enumerate(bundle.get("entry", [])):
        resource = entry.get("resource", {})
        kind = resource.get("resourceType")
        if kind not in validator.schema["definitions"]:
            errors.append(f"entry {index}: {kind} is not an R4 resource")
            continue
        # The same schema rooted at the resource's definition ($ref siblings are ignored in draft-06).
        single = validator.evolve(schema={**validator.schema, "$ref": f"#/definitions/{kind}"})
        errors.extend(
            f"entry {index} {kind} {'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
            for e in single.iter_errors(resource)
        )
    return errors


def unresolved_references(bundle: dict[str, Any]) -> list[str]:
    full_urls = {entry["fullUrl"] for entry in bundle["entry"]}
    return sorted({ref for ref in bundle_references(bundle) if ref not in full_urls})


@functools.cache
def _ucum_parser() -> Any:
    try:
        from ucumvert import get_ucum_parser
    except ImportError:
        _missing("the ucumvert package (UCUM parser)")
    return get_ucum_parser()


def observation_quantities(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    quantities: list[dict[str, Any]] = []
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] != "Observation":
            continue
        for holder in (resource, *resource.get("component", [])):
            if "valueQuantity" in holder:
                quantities.append(holder["valueQuantity"])
    return quantities


def invalid_ucum_units(bundle: dict[str, Any]) -> list[str]:
    parser = _ucum_parser()
    bad: list[str] = []
    for quantity in observation_quantities(bundle):
        code = quantity.get("code")
        if quantity.get("system") != UCUM or not code:
            bad.append(f"{quantity} has no UCUM system/code")
            continue
        try:
            parser.parse(code)
        except Exception as error:  # lark's errors: not UCUM
            bad.append(f"{code!r}: {type(error).__name__}")
    return bad


FHIRJS_VERSION = "4.12.0"
_FHIRJS_SCRIPT = """
const { Fhir } = require(process.argv[1]);  // node -e: argv[1] is the first argument
const bundle = JSON.parse(require("fs").readFileSync(0, "utf8"));
const result = new Fhir().validate(bundle, { errorOnUnexpected: true });
const errors = result.messages.filter((m) => m.severity === "error");
process.stdout.write(JSON.stringify(errors.map((m) => `${m.location}: ${m.message}`)));
"""


@functools.cache
def _fhirjs_module() -> str:
    home = _cache_dir() / "fhirjs"
    module = home / "node_modules" / "fhir"
    if not (module / "package.json").is_file() and shutil.which("npm"):
        home.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--silent",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(home),
                f"fhir@{FHIRJS_VERSION}",
            ],
            check=False,
            capture_output=True,
            timeout=300,
        )
    if not (module / "package.json").is_file() or not shutil.which("node"):
        _missing(f"FHIR.js (npm fhir@{FHIRJS_VERSION}, in {home}) or node")
    return str(module)


def spec_definition_errors(bundle: dict[str, Any]) -> list[str]:
    """Errors FHIR.js finds against R4's StructureDefinitions (empty = valid)."""
    result = subprocess.run(
        ["node", "-e", _FHIRJS_SCRIPT, _fhirjs_module()],
        input=json.dumps(bundle),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(result.stdout)
