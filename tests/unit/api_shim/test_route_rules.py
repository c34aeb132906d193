"""A route changes something only through shim.ctx.apply_if_match (state lock,
If-Match, apply in one place): no route module reaches the state store."""

import ast

import vpetest

ROUTES = vpetest.REPO / 'api_shim' / 'routes'


def _store_uses(path):
    """Lines of `path` that name an attribute `store` or `locked` (ctx.store, store.locked())."""
    return [node.lineno for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Attribute) and node.attr in ('store', 'locked')]


def test_no_route_touches_the_state_store():
    found = {path.name: _store_uses(path) for path in sorted(ROUTES.glob('*.py'))}
    assert {name: lines for name, lines in found.items() if lines} == {}


def test_the_rule_sees_a_route_taking_the_lock(tmp_path):
    """The check above passes when it finds nothing; this one shows it finds a lock taken by hand."""
    route = tmp_path / 'bad.py'
    route.write_text('def put(ctx):\n    with ctx.store.locked():\n        pass\n')
    assert _store_uses(route) == [2, 2]
