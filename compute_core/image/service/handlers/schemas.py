"""GET /v2/schemas/image(s), /v2/schemas/member(s): the JSON schemas of the
API's documents, which clients read and the create/update handlers validate
against; GET / and /versions: version discovery."""
from __future__ import annotations

import copy

from compute_core.image.service.handlers import json_response

DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso",
                "ploop")
CONTAINER_FORMATS = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")
UUID_PATTERN = ("^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}"
                "-([0-9a-fA-F]){12}$")


def _string(description, max_length=255, nullable=False, **extra):
    return {"type": ["null", "string"] if nullable else "string", "maxLength": max_length,
            "description": description, **extra}


def _read_only(schema):
    return {**schema, "readOnly": True}


IMAGE = {
    "name": "image",
    "properties": {
        "id": _string("An identifier for the image", 36, pattern=UUID_PATTERN),
        "name": _string("Descriptive name for the image", nullable=True),
        "status": _read_only({"type": "string", "description": "Status of the image",
                              "enum": ["queued", "saving", "active", "killed", "deleted",
                                       "uploading", "importing", "pending_delete",
                                       "deactivated"]}),
        "visibility": {"type": "string", "description": "Scope of image accessibility",
                       "enum": ["community", "public", "private", "shared"]},
        "protected": {"type": "boolean",
                      "description": "If true, image will not be deletable."},
        "os_hidden": {"type": "boolean",
                      "description": "If true, image will not appear in default image list "
                                     "response."},
        "checksum": _read_only(_string("md5 hash of image contents.", 32, nullable=True)),
        "os_hash_algo": _read_only(_string("Algorithm to calculate the os_hash_value", 64,
                                           nullable=True)),
        "os_hash_value": _read_only(_string("Hexdigest of the image contents using the "
                                            "algorithm specified by the os_hash_algo", 128,
                                            nullable=True)),
        "owner": _string("Owner of the image", nullable=True),
        "size": _read_only({"type": ["null", "integer"],
                            "description": "Size of image file in bytes"}),
        "virtual_size": _read_only({"type": ["null", "integer"],
                                    "description": "Virtual size of image in bytes"}),
        "container_format": {"type": ["null", "string"],
                             "description": "Format of the container",
                             "enum": [None, *CONTAINER_FORMATS]},
        "disk_format": {"type": ["null", "string"], "description": "Format of the disk",
                        "enum": [None, *DISK_FORMATS]},
        "created_at": _read_only({"type": "string",
                                  "description": "Date and time of image registration"}),
        "updated_at": _read_only({"type": "string",
                                  "description": "Date and time of the last image "
                                                 "modification"}),
        "tags": {"type": "array", "description": "List of strings related to the image",
                 "items": {"type": "string", "maxLength": 255}},
        "direct_url": _read_only({"type": "string", "description": "URL to access the "
                                                                   "image file kept in "
                                                                   "external store"}),
        "min_ram": {"type": "integer", "minimum": 0, "maximum": 2 ** 31 - 1,
                    "description": "Amount of ram (in MB) required to boot image."},
        "min_disk": {"type": "integer", "minimum": 0, "maximum": 2 ** 31 - 1,
                     "description": "Amount of disk space (in GB) required to boot image."},
        "self": _read_only({"type": "string", "description": "An image self url"}),
        "file": _read_only({"type": "string", "description": "An image file url"}),
        "schema": _read_only({"type": "string",
                              "description": "An image schema url"}),
        "locations": {"type": "array", "description": "A set of URLs to access the image "
                                                      "file kept in external store",
                      "items": {"type": "object"}},
        # Properties the scheduler's image filters read.
        "architecture": _string("Operating system architecture as specified in "
                                "https://docs.openstack.org/python-glanceclient/latest/cli/"
                                "property-keys.html", nullable=False),
        "os_distro": _string("Common name of operating system distribution"),
        "os_version": _string("Operating system version as specified by the distributor"),
        "kernel_id": _string("ID of image stored in Glance that should be used as the "
                             "kernel when booting an AMI-style image.", 36, nullable=True,
                             pattern=UUID_PATTERN),
        "ramdisk_id": _string("ID of image stored in Glance that should be used as the "
                              "ramdisk when booting an AMI-style image.", 36, nullable=True,
                              pattern=UUID_PATTERN),
        "instance_uuid": _string("Metadata which can be used to record which instance "
                                 "this image is associated with."),
    },
    "additionalProperties": {"type": "string"},
    "links": [{"rel": "self", "href": "{self}"}, {"rel": "enclosure", "href": "{file}"},
              {"rel": "describedby", "href": "{schema}"}],
}

READ_ONLY = frozenset(k for k, v in IMAGE["properties"].items() if v.get("readOnly"))
# Attributes no request sets (Glance's reserved ones).
RESERVED = frozenset({"location", "deleted", "deleted_at"})

MEMBER = {
    "name": "member",
    "properties": {
        "created_at": {"type": "string", "description": "Date and time of image member "
                                                        "creation"},
        "image_id": {"type": "string", "description": "An identifier for the image",
                     "pattern": UUID_PATTERN},
        "member_id": {"type": "string", "description": "An identifier for the image member "
                                                       "(tenantId)"},
        "status": {"type": "string", "description": "The status of this image member",
                   "enum": ["pending", "accepted", "rejected"]},
        "updated_at": {"type": "string",
                       "description": "Date and time of last modification of image member"},
        "schema": {"readOnly": True, "type": "string"},
    },
}


def _collection(name, item):
    return {"name": name, "properties": {name: {"type": "array", "items": item},
                                         "schema": {"type": "string"},
                                         **({"first": {"type": "string"},
                                             "next": {"type": "string"}}
                                            if name == "images" else {})},
            "links": ([{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
                       {"rel": "describedby", "href": "{schema}"}] if name == "images"
                      else [{"rel": "describedby", "href": "{schema}"}])}


def validation_schema() -> dict:
    """IMAGE as a jsonschema document for an image's settable attributes."""
    schema = copy.deepcopy(IMAGE)
    schema["type"] = "object"
    schema.pop("links")
    return schema


def image(req):
    return json_response(IMAGE)


def images(req):
    return json_response(_collection("images", IMAGE))


def member(req):
    return json_response(MEMBER)


def members(req):
    return json_response(_collection("members", MEMBER))


# Glance's v2 minor versions; the last one is CURRENT.
VERSIONS = ("2.0", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7", "2.8", "2.9", "2.10",
            "2.11", "2.12", "2.13", "2.14", "2.15", "2.16")


def versions(req):
    base = req.application_url.rstrip("/")
    docs = [{"id": f"v{v}", "status": "CURRENT" if v == VERSIONS[-1] else "SUPPORTED",
             "links": [{"rel": "self", "href": f"{base}/v2/"}]} for v in reversed(VERSIONS)]
    status = 200 if req.path_info.rstrip("/") == "/versions" else 300
    return json_response({"versions": docs}, status=status)
