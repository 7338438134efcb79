"""Check results: CheckDetail, ReportType, export_YAML and import_YAML
(taskhost's own implementation, shared by libtaskotron.check and
checkb.check)."""

from _taskhost_check import (  # noqa: F401
    OUTCOMES,
    RESERVED_KEYS,
    CheckDetail,
    ReportType,
    export_YAML,
    import_YAML,
)
