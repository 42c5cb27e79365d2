"""``/api/docs``: the OpenAPI document as a readable page, rendered on the server from the same
spec as ``/api/v1/openapi.json``, so it works offline (no CDN assets, no JavaScript)."""

from flask import Blueprint, render_template

bp = Blueprint("api_docs", __name__)

METHODS = ("get", "post", "put", "patch", "delete")


def _ref_name(schema: dict | None) -> str:
    if not schema:
        return ""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        return f"array of {_ref_name(schema.get('items'))}"
    if "oneOf" in schema:
        return " or ".join(_ref_name(s) for s in schema["oneOf"])
    return schema.get("type", "object")


@bp.route("/api/docs")
def api_docs():
    from booking.api import api

    spec = api.openapi_document()
    operations = []
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                operation = item[method]
                body = operation.get("requestBody", {}).get("content", {})
                operations.append(
                    {
                        "method": method.upper(),
                        "path": path,
                        "tag": (operation.get("tags") or [""])[0],
                        "summary": operation.get("summary", ""),
                        "description": operation.get("description", ""),
                        "parameters": operation.get("parameters", []) + item.get("parameters", []),
                        "body": {ct: _ref_name(c.get("schema")) for ct, c in body.items()},
                        "responses": {
                            code: (
                                r.get("description", ""),
                                {ct: _ref_name(c.get("schema")) for ct, c in r.get("content", {}).items()},
                            )
                            for code, r in operation.get("responses", {}).items()
                        },
                        "secured": bool(operation.get("security")),
                    }
                )
    return render_template(
        "api_docs.html",
        spec=spec,
        operations=operations,
        schemas=spec.get("components", {}).get("schemas", {}),
    )
