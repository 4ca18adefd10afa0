"""Design from the request: read what the user named, build the structure around it.

The specialists' own logic, behind this face: the database agent's data model and schema
(``read_model`` → ``design_schema``, index advice on the user's own tables), the
architecture agent's system design (``design_system`` → one ``SystemDesign``), and the code
agent's spec, checked modules and skeletons (``read_spec`` → ``assemble`` → ``check_module``
or ``skeleton``). None of it calls a model.
"""

from agents.design.blueprint import SystemDesign
from agents.design.code_checks import CodeCheck, check_module
from agents.design.code_components import accept_module, component_skeleton
from agents.design.code_spec import CodeSpec, read_spec
from agents.design.code_tests import write_tests
from agents.design.codegen import assemble, is_complete, ruff_errors, skeleton, stub_source
from agents.design.entities import DataModel, Entity, read_model
from agents.design.indexes import (
    advise,
    asks_about_indexes,
    indexes_notes,
    indexes_sql,
    user_tables,
)
from agents.design.request_text import asks_for_explanation
from agents.design.schema import (
    Index,
    SchemaDesign,
    Table,
    column_for,
    design_schema,
    schema_notes,
    table_name,
)
from agents.design.system import design_system

__all__ = [
    "CodeCheck",
    "CodeSpec",
    "DataModel",
    "Entity",
    "Index",
    "SchemaDesign",
    "SystemDesign",
    "Table",
    "accept_module",
    "advise",
    "asks_about_indexes",
    "asks_for_explanation",
    "assemble",
    "check_module",
    "column_for",
    "component_skeleton",
    "design_schema",
    "design_system",
    "indexes_notes",
    "indexes_sql",
    "is_complete",
    "read_model",
    "read_spec",
    "ruff_errors",
    "schema_notes",
    "skeleton",
    "stub_source",
    "table_name",
    "user_tables",
    "write_tests",
]
