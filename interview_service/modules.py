"""The module registry: the app, init-db, account export/delete and purge derive from it.

Each module exposes `blp` from its package, and where it has them `DOCUMENTS`,
`export_user(user)` (named parts of the account export) with `EXPORT_SCHEMAS` (each part's
item schema), `delete_user(user)` and `purge_older_than(moment, dry_run)` (counts by kind).
Adding a module is one line here.
"""

from interview_service import account, feedback, ops, performance, sessions

MODULES = (ops, sessions, performance, account, feedback)


def hooks(name):
    """The `name` hook of every module that has one, in registry order."""
    return [getattr(module, name) for module in MODULES if hasattr(module, name)]


def blueprints():
    """Every module's blueprint."""
    return [module.blp for module in MODULES]


def documents():
    """Every document class the modules store."""
    return [document for module_documents in hooks("DOCUMENTS") for document in module_documents]


def merged(name, *args, **kwargs):
    """One dict of every module's `name`: what each hook answers (counts, export parts), or
    each dict it declares (export schemas)."""
    answer = {}
    for hook in hooks(name):
        answer.update(hook(*args, **kwargs) if callable(hook) else hook)
    return answer
