"""Validates an OpenAPI document (a file) with openapi-spec-validator; prints "valid"."""

import json
import sys

from openapi_spec_validator import validate

with open(sys.argv[1]) as f:
    validate(json.load(f))
print("valid")
