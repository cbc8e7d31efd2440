"""The S3 Control REST-XML wire format, read from botocore's own ``s3control`` service model.

The emulator parses requests and writes responses with the shapes botocore uses to build and read
them, so member names, ``locationName`` s, list element names and the XML namespace cannot drift from
what the unmodified boto3 client sends and expects.
"""

from __future__ import annotations

import datetime as dt
import uuid
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

from botocore.loaders import Loader
from botocore.model import ServiceModel
from botocore.utils import parse_timestamp

if TYPE_CHECKING:
    from collections.abc import Mapping

    from botocore.model import ListShape, OperationModel, Shape, StructureShape

XML_NAMESPACE = "http://awss3control.amazonaws.com/doc/2018-08-20/"
API_VERSION = "2018-08-20"


class WireError(ValueError):
    """The request body or a parameter cannot be read as the model describes it."""


@lru_cache(maxsize=1)
def service_model() -> ServiceModel:
    """botocore's ``s3control`` model (the same file the boto3 client is built from)."""
    return ServiceModel(Loader().load_service_model("s3control", "service-2", API_VERSION), "s3control")


def operation_model(name: str) -> OperationModel:
    return service_model().operation_model(name)


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _scalar_from_text(text: str, shape: Shape, where: str) -> Any:
    type_name = shape.type_name
    try:
        if type_name in ("integer", "long"):
            return int(text)
        if type_name == "boolean":
            if text.strip().lower() not in ("true", "false"):
                raise WireError(f"{where}: {text!r} is not a boolean (true or false).")
            return text.strip().lower() == "true"
        if type_name == "timestamp":
            return parse_timestamp(text)
        if type_name in ("float", "double"):
            return float(text)
    except (ValueError, TypeError, OverflowError) as err:
        if isinstance(err, WireError):
            raise
        raise WireError(f"{where}: {text!r} is not a valid {type_name}.") from None
    return text


def _from_element(element: ElementTree.Element, shape: Shape, where: str) -> Any:
    if shape.type_name == "structure":
        return _structure_from_element(element, shape, where)  # type: ignore[arg-type]
    if shape.type_name == "list":
        return _list_from_children(list(element), shape, where)  # type: ignore[arg-type]
    return _scalar_from_text(element.text or "", shape, where)


def _list_from_children(children: list[ElementTree.Element], shape: ListShape, where: str) -> list[Any]:
    member_shape = shape.member
    item_name = member_shape.serialization.get("name", "member")
    return [
        _from_element(child, member_shape, f"{where}.{item_name}[{index}]")
        for index, child in enumerate(children)
        if _local_name(child.tag) == item_name
    ]


def _structure_from_element(
    element: ElementTree.Element, shape: StructureShape, where: str
) -> dict[str, Any]:
    by_name: dict[str, list[ElementTree.Element]] = {}
    for child in element:
        by_name.setdefault(_local_name(child.tag), []).append(child)
    result: dict[str, Any] = {}
    for member_name, member_shape in shape.members.items():
        if member_shape.serialization.get("location"):
            continue
        xml_name = member_shape.serialization.get("name", member_name)
        found = by_name.get(xml_name)
        if not found:
            continue
        if member_shape.type_name == "list" and member_shape.serialization.get("flattened"):
            result[member_name] = [
                _from_element(item, member_shape.member, f"{where}.{member_name}")  # type: ignore[attr-defined]
                for item in found
            ]
        else:
            result[member_name] = _from_element(found[0], member_shape, f"{where}.{member_name}")
    return result


def parse_request(
    operation: OperationModel,
    *,
    body: bytes,
    headers: Mapping[str, str],
    query: Mapping[str, list[str]],
    uri_params: Mapping[str, str],
) -> dict[str, Any]:
    """Turn an HTTP request into the operation's input parameters, as boto3 callers name them."""
    shape = operation.input_shape
    if shape is None:
        return {}
    params: dict[str, Any] = {}
    lowered_headers = {name.lower(): value for name, value in headers.items()}
    payload_members = False
    for member_name, member_shape in shape.members.items():
        location = member_shape.serialization.get("location")
        wire_name = member_shape.serialization.get("name", member_name)
        if location == "header":
            value = lowered_headers.get(wire_name.lower())
            if value is not None:
                params[member_name] = _scalar_from_text(value, member_shape, f"header {wire_name}")
        elif location == "uri":
            if wire_name in uri_params:
                params[member_name] = uri_params[wire_name]
        elif location == "querystring":
            values = query.get(wire_name)
            if values:
                if member_shape.type_name == "list":
                    item_shape = member_shape.member  # type: ignore[attr-defined]
                    params[member_name] = [
                        _scalar_from_text(value, item_shape, f"query {wire_name}") for value in values
                    ]
                else:
                    params[member_name] = _scalar_from_text(values[0], member_shape, f"query {wire_name}")
        else:
            payload_members = True
    if payload_members and body.strip():
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError as err:
            raise WireError(f"The request body is not well-formed XML: {err}.") from None
        expected_root = shape.serialization.get("name") or shape.name
        if _local_name(root.tag) != expected_root:
            raise WireError(
                f"The request body's root element is {_local_name(root.tag)!r}, expected {expected_root!r}."
            )
        params.update(_structure_from_element(root, shape, expected_root))
    return params


def _format_scalar(value: Any, shape: Shape) -> str:
    if shape.type_name == "boolean":
        return "true" if value else "false"
    if shape.type_name == "timestamp":
        if isinstance(value, dt.datetime):
            stamp = value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
            return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"
        return str(value)
    return str(value)


def _append(parent: ElementTree.Element, name: str, value: Any, shape: Shape) -> None:
    if value is None:
        return
    if shape.type_name == "structure":
        node = ElementTree.SubElement(parent, name)
        _fill_structure(node, value, shape)  # type: ignore[arg-type]
    elif shape.type_name == "list":
        member_shape = shape.member  # type: ignore[attr-defined]
        if shape.serialization.get("flattened"):
            for item in value:
                _append(parent, name, item, member_shape)
        else:
            node = ElementTree.SubElement(parent, name)
            item_name = member_shape.serialization.get("name", "member")
            for item in value:
                _append(node, item_name, item, member_shape)
    else:
        ElementTree.SubElement(parent, name).text = _format_scalar(value, shape)


def _fill_structure(node: ElementTree.Element, data: Mapping[str, Any], shape: StructureShape) -> None:
    for member_name, member_shape in shape.members.items():
        if member_name in data and not member_shape.serialization.get("location"):
            _append(
                node, member_shape.serialization.get("name", member_name), data[member_name], member_shape
            )


def serialize_response(operation: OperationModel, data: Mapping[str, Any]) -> bytes:
    """The XML body of a successful response (empty when the output shape has no body members)."""
    shape = operation.output_shape
    if shape is None or not shape.members:
        return b""
    root = ElementTree.Element(shape.name, {"xmlns": XML_NAMESPACE})
    _fill_structure(root, data, shape)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="utf-8")


def new_request_id() -> str:
    return uuid.uuid4().hex[:16].upper()


def error_body(code: str, message: str, request_id: str) -> bytes:
    """An S3 Control error document: ``<ErrorResponse><Error><Code/><Message/></Error>...``."""
    root = ElementTree.Element("ErrorResponse", {"xmlns": XML_NAMESPACE})
    error = ElementTree.SubElement(root, "Error")
    ElementTree.SubElement(error, "Code").text = code
    ElementTree.SubElement(error, "Message").text = message
    ElementTree.SubElement(root, "RequestId").text = request_id
    ElementTree.SubElement(root, "HostId").text = request_id
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="utf-8")
