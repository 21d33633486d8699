"""Check cognito-idp exchanges against AWS's own service model (botocore's ``service-2.json``).

The model is written by AWS, not by us, so it is an independent check of both
sides of the wire: :class:`ShapeChecker` is an observer of a
:class:`~keybearer.testing.LocalCognito` that validates every request it gets
with botocore's ``ParamValidator`` (required members, unknown members, types,
lengths) and every answer it gives with a small walker over the operation's
output shape (unknown and missing members, types, enums, string patterns and
lengths; for an error, that its ``__type`` is one the operation declares).

Answers planned with ``fail_next`` are not checked: a test that sends a
malformed answer on purpose is not a stand-in bug. Violation messages name
members and types, never values (a value may be a password or a token).
"""

from __future__ import annotations

import functools
import re
import threading
from typing import Any

from keybearer.testing._dispatch import Call, Reply

__all__ = ["ShapeChecker"]

#: Errors of the AWS JSON protocol that any operation may answer, declared or not.
_COMMON_ERRORS = frozenset(
    {"SerializationException", "UnknownOperationException", "ValidationException"}
)


#: Bounds in the model that Cognito itself exceeds: the standard attribute
#: ``phone_number_verified`` (21 characters) is listed in SchemaAttributes
#: although CustomAttributeNameType allows at most 20.
_LENGTH_QUIRKS = frozenset({"CustomAttributeNameType"})


#: Enum values Cognito uses that the model's enum lacks: GetClientToken's own
#: documentation requires ALLOW_CLIENT_TOKEN_AUTH in ExplicitAuthFlows, which
#: ExplicitAuthFlowsType does not list (botocore 1.44).
_ENUM_QUIRKS = {"ExplicitAuthFlowsType": frozenset({"ALLOW_CLIENT_TOKEN_AUTH"})}


def _placeholders(value: Any) -> Any:
    """The same structure with every string replaced by one of the same length."""
    if isinstance(value, str):
        return "x" * len(value)
    if isinstance(value, dict):
        return {key: _placeholders(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_placeholders(item) for item in value]
    return value


@functools.cache
def _pattern(source: str | None) -> re.Pattern[str] | None:
    """A model pattern compiled, or ``None`` for Java-only syntax (``\\p{L}``) Python lacks."""
    if not source:
        return None
    try:
        return re.compile(source)
    except re.error:
        return None


class ShapeChecker:
    """Validates cognito-idp requests and answers; collects what does not fit the model.

    Use it as an observer: ``cognito.add_observer(checker)``. Read and reset
    :attr:`violations` between tests (:meth:`take`).
    """

    def __init__(self) -> None:
        # botocore is a dependency of moto (hence of the testing extra); loaded on first use.
        import botocore.session  # type: ignore[import-untyped]
        from botocore.validate import ParamValidator  # type: ignore[import-untyped]

        self._model = botocore.session.get_session().get_service_model("cognito-idp")
        self._validator = ParamValidator()
        self._lock = threading.Lock()
        self._violations: list[str] = []

    @property
    def violations(self) -> list[str]:
        """A copy of the violations seen since the last :meth:`take`."""
        with self._lock:
            return list(self._violations)

    def take(self) -> list[str]:
        """Return the violations seen so far and forget them."""
        with self._lock:
            taken, self._violations = self._violations, []
        return taken

    def __call__(self, call: Call, reply: Reply) -> None:
        if call.planned:
            return
        try:
            found = self.check(call, reply)
        except Exception as exc:  # a checker bug must not become the stand-in's 500
            found = [f"{call.operation}: the shape check failed ({type(exc).__name__})"]
        if found:
            with self._lock:
                self._violations.extend(found)

    def check(self, call: Call, reply: Reply) -> list[str]:
        """The violations of one exchange (empty when both sides fit the model)."""
        if call.operation not in self._model.operation_names:
            return [f"{call.operation}: not an operation of cognito-idp"]
        operation = self._model.operation_model(call.operation)
        found = self.check_request(call.operation, call.json_or_none())
        document = reply.document()
        if reply.status == 200:
            if not isinstance(document, dict):
                found.append(f"{call.operation} answer: the body is not a JSON object")
            elif operation.output_shape is not None:
                found += self._walk(operation.output_shape, document, f"{call.operation} answer")
            elif document:
                found.append(f"{call.operation} answer: the model declares no output")
        else:
            found += self._error(operation, reply, document)
        return found

    def check_request(self, operation_name: str, request: object) -> list[str]:
        """The violations of one request body (parsed JSON) to ``operation_name``."""
        if operation_name not in self._model.operation_names:
            return [f"{operation_name}: not an operation of cognito-idp"]
        if not isinstance(request, dict):
            return [f"{operation_name} request: the body is not a JSON object"]
        operation = self._model.operation_model(operation_name)
        report = self._validator.validate(_placeholders(request), operation.input_shape)
        if report.has_errors():
            return [f"{operation_name} request: {report.generate_report()}"]
        return []

    def _error(self, operation: Any, reply: Reply, document: object) -> list[str]:
        where = f"{operation.name} error"
        error_type = reply.error_type
        if isinstance(document, dict) and isinstance(document.get("__type"), str):
            error_type = str(document["__type"]).rpartition("#")[2]
        if not error_type:
            return [f"{where}: HTTP {reply.status} without __type or x-amzn-ErrorType"]
        declared = {shape.name for shape in operation.error_shapes}
        if error_type not in declared | _COMMON_ERRORS:
            return [f"{where}: {error_type} is not an error {operation.name} declares"]
        return []

    def _walk(self, shape: Any, value: object, path: str) -> list[str]:
        kind = shape.type_name
        if kind == "structure":
            if not isinstance(value, dict):
                return [f"{path}: expected an object ({shape.name})"]
            found = [
                f"{path}.{name}: not a member of {shape.name}"
                for name in value
                if name not in shape.members
            ]
            found += [
                f"{path}.{name}: required by {shape.name} but missing"
                for name in shape.required_members
                if name not in value
            ]
            for name, member in shape.members.items():
                if name in value and value[name] is not None:
                    found += self._walk(member, value[name], f"{path}.{name}")
            return found
        if kind == "list":
            if not isinstance(value, list):
                return [f"{path}: expected a list ({shape.name})"]
            found = []
            for index, item in enumerate(value):
                found += self._walk(shape.member, item, f"{path}[{index}]")
            return found
        if kind == "map":
            if not isinstance(value, dict):
                return [f"{path}: expected a map ({shape.name})"]
            found = []
            for key, item in value.items():
                found += self._walk(shape.key, key, f"{path} key")
                found += self._walk(shape.value, item, f"{path}[{key!r}]")
            return found
        return self._scalar(shape, value, path)

    @staticmethod
    def _scalar(shape: Any, value: object, path: str) -> list[str]:
        kind = shape.type_name
        if kind == "string":
            if not isinstance(value, str):
                return [f"{path}: expected a string ({shape.name})"]
            found = []
            enum = shape.enum
            if enum and value not in enum and value not in _ENUM_QUIRKS.get(shape.name, ()):
                found.append(f"{path}: {value!r} is not one of {shape.name}'s values")
            pattern = _pattern(shape.metadata.get("pattern"))
            if pattern is not None and not pattern.search(value):
                found.append(f"{path}: does not match the pattern of {shape.name}")
            low, high = shape.metadata.get("min"), shape.metadata.get("max")
            outside = (low is not None and len(value) < low) or (
                high is not None and len(value) > high
            )
            if outside and shape.name not in _LENGTH_QUIRKS:
                found.append(f"{path}: length {len(value)} is outside {shape.name}'s bounds")
            return found
        if kind in ("integer", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                return [f"{path}: expected an integer ({shape.name})"]
            return []
        if kind == "boolean":
            return [] if isinstance(value, bool) else [f"{path}: expected a boolean"]
        if kind in ("double", "float"):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            return [] if ok else [f"{path}: expected a number"]
        if kind == "timestamp":
            ok = isinstance(value, (int, float, str)) and not isinstance(value, bool)
            return [] if ok else [f"{path}: expected a timestamp"]
        return []
