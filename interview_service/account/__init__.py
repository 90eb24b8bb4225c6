"""Account blueprint: the caller's whole data (export, deletion) and operator data tools."""
