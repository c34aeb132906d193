"""vpe_facts run by ansible-playbook through its action plugin: the worker's
inherited heap is frozen before the payload is built (plugin_utils/
worker_heap), and the module runs as ansible.builtin's normal action runs it:
module_defaults of the action group, check mode, its facts."""

import json

import vpetest

# Logs, for each payload the controller builds, the module and how many
# objects the collector had frozen then (a sitecustomize in the workers).
SITECUSTOMIZE = '''
import importlib.abc, importlib.machinery, json, os, sys

LOG = %r


class Hook(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != 'ansible.executor.module_common':
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            build = module.modify_module

            def logged(**kwargs):
                import gc
                with open(LOG, 'a') as log:
                    log.write(json.dumps([kwargs['module_name'], gc.get_freeze_count()]) + '\\n')
                return build(**kwargs)
            module.modify_module = logged
        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, Hook())
'''


def test_the_worker_heap_is_frozen_before_the_payload_is_built_and_the_facts_are_the_modules(tmp_path):
    log = tmp_path / 'builds.jsonl'
    site = tmp_path / 'site'
    site.mkdir()
    (site / 'sitecustomize.py').write_text(SITECUSTOMIZE % str(log))
    rc, results, output = vpetest.run_playbook('''
        - name: Facts from the test driver, its URI set for the action group
          vpe.hypervisor.vpe_facts:
            state_dir: %(state)s
            gather: [usages, quota]
          register: r_facts

        - name: The same in check mode
          vpe.hypervisor.vpe_facts:
            state_dir: %(state)s
            gather: [usages]
          check_mode: true
          register: r_check

        - name: A builtin module, built without our action plugin
          ansible.builtin.ping:
          register: r_ping
        ''' % {'state': tmp_path / 'state'}, play_extra='''
        module_defaults:
          group/vpe.hypervisor.all:
            uri: test:///default
        ''', extra_env={'PYTHONPATH': str(site)})
    assert rc == 0, output
    builds = [json.loads(line) for line in log.read_text().splitlines()]
    frozen = dict((name, count) for name, count in builds)
    # ping's is what the worker had frozen anyway (0 on 3.11, a few hundred from 3.12's start on 3.12+)
    assert frozen['vpe.hypervisor.vpe_facts'] > frozen['ansible.builtin.ping'] + 10000, builds

    facts = results['r_facts']['ansible_facts']['vpe']
    assert sorted(facts) == ['quota', 'usages']
    assert facts['usages']['instances'] == 1  # the test driver's one domain: module_defaults reached the module
    assert results['r_facts']['changed'] is False
    assert results['r_check']['ansible_facts']['vpe']['usages'] == facts['usages']
