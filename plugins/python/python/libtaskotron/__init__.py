"""libtaskotron, as far as taskhost's python directive provides it: the
`check` module (CheckDetail, ReportType, export_YAML, import_YAML) and
its exceptions."""
