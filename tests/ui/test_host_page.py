"""The host page in a real headless Chromium (Debian's chromium + chromium-driver
through Selenium) against a shim on the real libvirtd with a seeded metrics
store: the numbers equal the API's, every chart draws its series with the
store's gap, and a wrong token gets a clear message."""

import base64
import json
import os
import shutil
import tempfile

import libvirt
import pytest

import storage_helpers
import vpetest

pytestmark = [pytest.mark.api, pytest.mark.libvirtd, pytest.mark.slow]

CHROMIUM = '/usr/bin/chromium'
CHROMEDRIVER = '/usr/bin/chromedriver'
OUTPUT = vpetest.REPO / 'tests' / 'output' / 'ui'
POOL = vpetest.PREFIX + 'ui-pool'
SERIES = ('cpu', 'memory', 'network_in', 'network_out', 'disk_read', 'disk_write')
FLAGS = ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--disable-default-apps', '--disable-extensions', '--disable-dev-shm-usage', '--window-size=1280,1300',
         '--hide-scrollbars')


@pytest.fixture(scope='module')
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix='vpetest-chromium-')
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # given explicitly: Selenium Manager has nothing to look up
    for flag in FLAGS + ('--user-data-dir=%s' % profile,):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def by_id(driver, name):
    from selenium.webdriver.common.by import By
    return driver.find_element(By.ID, name)


def wait_for(driver, condition, what, timeout=30):
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, timeout).until(condition, 'page did not show %s' % what)


def open_page(driver, shim, token):
    driver.get(shim.url + '/ui')
    driver.execute_script('sessionStorage.clear(); localStorage.clear();')
    driver.get(shim.url + '/ui')
    assert by_id(driver, 'login').is_displayed() and not by_id(driver, 'page').is_displayed()
    by_id(driver, 'token').send_keys(token)
    by_id(driver, 'login').submit()


def loaded(driver):
    return driver.execute_script('return document.body.getAttribute("data-loaded")') == 'yes'


def chart_runs(driver):
    """{series: [vertices of each path segment]} as drawn."""
    return driver.execute_script('''
        var out = {};
        document.querySelectorAll('#charts figure').forEach(function (f) {
          out[f.getAttribute('data-series')] = Array.prototype.map.call(
            f.querySelectorAll('svg path.seg'), function (p) { return +p.getAttribute('data-count'); });
        });
        return out;''')


def api_runs(datas):
    runs, count = [], 0
    for value in datas.values():
        if value is None:
            if count:
                runs.append(count)
            count = 0
        else:
            count += 1
    return runs + ([count] if count else [])


@pytest.fixture
def ui_pool(seeded_shim, tmp_path):
    """A real volume pool made through the API (with 200 MiB on disk), removed after."""
    shim = seeded_shim[0]
    path = tmp_path / 'pool'
    path.mkdir()
    with open(path / 'disk0.img', 'wb') as handle:
        os.posix_fallocate(handle.fileno(), 0, 200 * 1024 * 1024)
    made = shim.request('POST', '/hypervisor/pools', headers={'Content-Type': 'application/json'},
                        data=json.dumps({'pool': {'name': POOL, 'path': str(path), 'max_gb': 20}}))
    assert made.status_code == 200, made.text
    yield made.json()['pool']
    shim.request('DELETE', '/hypervisor/pools/%s' % made.json()['pool']['uuid'])
    conn = libvirt.open(vpetest.SYSTEM_URI)
    try:
        storage_helpers.remove_pool(conn, POOL)
    finally:
        conn.close()


def full_page_screenshot(driver, path):
    """The whole page, not only the window (Chromium's own capture beyond the viewport)."""
    width, height = driver.execute_script(
        'return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]')
    shot = driver.execute_cdp_cmd('Page.captureScreenshot', {
        'format': 'png', 'captureBeyondViewport': True,
        'clip': {'x': 0, 'y': 0, 'width': width, 'height': min(height, 6000), 'scale': 1}})
    OUTPUT.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot['data']))


def test_page_shows_the_api_numbers_and_draws_every_series_with_its_gap(seeded_shim, browser, domains, ui_pool):
    from selenium.webdriver.support.ui import Select

    shim, _gap = seeded_shim
    domains.define('ui-web', vcpus=2, memory_mib=256)
    domains.define('ui-db', vcpus=1, memory_mib=128)
    # force: other suites' domains on this libvirtd may already hold more than that
    quota = shim.request('PUT', '/hypervisor/quota?force=true', data=json.dumps({'quota': {'cpu_max': 16, 'memory_max_mb': 16384}}),
                         headers={'Content-Type': 'application/json'})
    assert quota.status_code == 200, quota.text
    open_page(browser, shim, shim.read_token)
    wait_for(browser, loaded, 'the host')

    # Other suites share this libvirtd: compare against an API answer that held
    # still while the page loaded, reloading (the token stays) if it moved.
    for _attempt in range(3):
        before = shim.request('GET', '/hypervisor/usages', token='read').json()['usages']
        shown = {k: int(by_id(browser, k).text) for k in before}
        after = shim.request('GET', '/hypervisor/usages', token='read').json()['usages']
        if shown == before == after:
            break
        browser.refresh()
        wait_for(browser, loaded, 'the host again')
    assert shown == after and after['cpu_total'] == 16 and after['memory_total_mb'] == 16384
    network = shim.request('GET', '/hypervisor/network', token='read')
    if network.status_code == 200:
        assert by_id(browser, 'bridge').text == (network.json()['network']['bridge'] or 'not set')
    rows = browser.execute_script(
        'return Array.prototype.map.call(document.querySelectorAll("#storage-rows tr"),'
        ' function (r) { return r.getAttribute("data-kind"); });')
    assert rows[0] == 'image-pool'
    cells = browser.execute_script(
        'var out = null, name = arguments[0]; document.querySelectorAll("#storage-rows tr").forEach(function (r) {'
        ' if (r.cells[0].textContent === name) { out = Array.prototype.map.call(r.cells,'
        ' function (c) { return c.textContent; }); } }); return out;', POOL)
    listed = [p for p in shim.request('GET', '/hypervisor/pools', token='read').json()['pools'] if p['name'] == POOL][0]
    assert cells[:4] == [POOL, listed['path'], str(listed['used_gb']), '20'] and listed['used_gb'] > 0

    # today (the default) draws every series; yesterday shows the store's gap
    today = chart_runs(browser)
    assert sorted(today) == sorted(SERIES) and all(today[s] for s in SERIES), today
    browser.execute_script('document.body.removeAttribute("data-loaded")')
    Select(by_id(browser, 'range')).select_by_value('yesterday')
    wait_for(browser, loaded, 'yesterday\'s charts')
    api = shim.request('GET', '/hypervisor/metrics?q=yesterday', token='read').json()['metrics']
    drawn = chart_runs(browser)
    for series in SERIES:
        assert drawn[series] == api_runs(api[series]['datas']), series
        assert len(drawn[series]) == 2, 'a break in the line where the store has no samples'
    units = browser.execute_script(
        'return Array.prototype.map.call(document.querySelectorAll("#charts svg text.unit"),'
        ' function (t) { return t.textContent; });')
    assert units[0] == '%' and all(units)
    labels = browser.execute_script(
        'return Array.prototype.map.call(document.querySelectorAll("#charts figure:first-child .axis-x text"),'
        ' function (t) { return t.textContent; });')
    assert labels[:2] == ['00:00', '03:00']

    # pointing at 06:00 on the cpu chart reads that point's value out (the API's, unit included)
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    hit = browser.find_element(By.CSS_SELECTOR, '#charts figure[data-series="cpu"] rect.hit')
    ActionChains(browser).move_to_element_with_offset(hit, int(-hit.rect['width'] / 4), 0).perform()
    readout = browser.find_element(By.CSS_SELECTOR, '#charts figure[data-series="cpu"] .hover text').text
    near = [k for k in api['cpu']['datas'] if k[-5:] in ('05:55', '06:00', '06:05')]  # a pixel is ~3 minutes
    assert readout in ['%s: %s %%' % (k, ('%.2f' % api['cpu']['datas'][k]).rstrip('0').rstrip('.')) for k in near], readout

    # the token lives in this tab's sessionStorage only; every request went to this host
    assert browser.execute_script('return sessionStorage.getItem("vpe-token")') == shim.read_token
    assert browser.execute_script('return localStorage.length') == 0
    resources = browser.execute_script(
        'return performance.getEntriesByType("resource").map(function (e) { return e.name; });')
    assert resources and all(url.startswith(shim.url + '/') for url in resources), resources

    full_page_screenshot(browser, OUTPUT / 'host-page.png')
    assert (OUTPUT / 'host-page.png').stat().st_size > 20000


def test_wrong_token_shows_the_apis_message_and_keeps_nothing(seeded_shim, browser):
    shim, _gap = seeded_shim
    open_page(browser, shim, 'this-is-not-a-valid-token')
    wait_for(browser, lambda d: by_id(d, 'error').is_displayed(), 'an error')
    expected = shim.request('GET', '/hypervisor/usages', token='this-is-not-a-valid-token').json()['detail']
    message = by_id(browser, 'error').text
    assert 'not accepted' in message and expected in message and '401' in message
    assert by_id(browser, 'login').is_displayed() and not by_id(browser, 'page').is_displayed()
    assert browser.execute_script('return sessionStorage.getItem("vpe-token")') is None
    OUTPUT.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(OUTPUT / 'wrong-token.png'))

    # and the right token afterwards gets the page
    by_id(browser, 'token').send_keys(shim.read_token)
    by_id(browser, 'login').submit()
    wait_for(browser, loaded, 'the host')
    assert not by_id(browser, 'error').is_displayed()


def test_a_route_this_shim_does_not_serve_shows_not_available(seeded_shim, browser):
    """An older shim without the storage or metrics routes answers them 404:
    the page says so in their place and still shows everything else. The
    browser is made to see that 404 for two routes (the real shim serves them)."""
    shim, _gap = seeded_shim
    missing = ['/hypervisor/pools', '/hypervisor/metrics?']
    script = browser.execute_cdp_cmd('Page.addScriptToEvaluateOnNewDocument', {'source': '''
        (function () {
          var real = window.fetch, missing = %s;
          window.fetch = function (url, opts) {
            if (missing.some(function (m) { return String(url).indexOf(m) === 0; })) {
              return real('/hypervisor/no-such-route', opts);
            }
            return real(url, opts);
          };
        })();''' % json.dumps(missing)})
    try:
        open_page(browser, shim, shim.read_token)
        wait_for(browser, loaded, 'the host')
        assert by_id(browser, 'metrics-note').text == 'metrics: not available on this shim'
        assert by_id(browser, 'charts').get_attribute('data-state') == 'unavailable'
        assert 'not available' in by_id(browser, 'storage').text
        assert int(by_id(browser, 'cpu_total').text) >= 1  # the rest is there
    finally:
        browser.execute_cdp_cmd('Page.removeScriptToEvaluateOnNewDocument', {'identifier': script['identifier']})


def test_the_quota_card_shows_whether_the_quota_is_enforced(seeded_shim, browser):
    """off, then asked for but waiting for a libvirtd restart (this test does
    not restart the shared daemon; the API test of a restarted one is
    tests/system/test_quota_hook_real.py). The hook goes whatever happens."""
    from ansible_collections.vpe.hypervisor.plugins.module_utils.quota import quota_hook

    shim, _gap = seeded_shim
    made = [d for d in (quota_hook.HOOKS_DIR, os.path.dirname(quota_hook.dropin_path())) if not os.path.isdir(d)]

    def put(body):
        resp = shim.request('PUT', '/hypervisor/quota?force=true', data=json.dumps({'quota': body}),
                            headers={'Content-Type': 'application/json'})
        assert resp.status_code == 200, resp.text

    try:
        put({'enforce': 'off'})
        open_page(browser, shim, shim.read_token)
        wait_for(browser, loaded, 'the host')
        assert by_id(browser, 'quota_enforce').text == 'off'
        assert 'bookkeeping only' in by_id(browser, 'quota_note').text

        put({'cpu_max': 65536, 'memory_max_mb': 2147483647, 'enforce': 'running'})
        browser.refresh()
        wait_for(browser, loaded, 'the host again')
        card = by_id(browser, 'card-quota')
        assert (card.get_attribute('data-enforce'), card.get_attribute('data-enforced')) == ('running', 'no')
        assert by_id(browser, 'quota_enforce').text == 'running, not yet'
        assert 'libvirtd must restart' in by_id(browser, 'quota_note').text
    finally:
        put({'enforce': 'off'})
        for directory in reversed(made):
            if os.path.isdir(directory) and not os.listdir(directory):
                os.rmdir(directory)
