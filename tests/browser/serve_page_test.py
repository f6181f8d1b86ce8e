#!/usr/bin/env python3
"""The `attn serve` page in a real headless browser (chromium + chromedriver, via selenium).

Trains a tiny translation model with `attn train` on a generated toy corpus (or takes
--model), starts `attn serve` on a free port, loads the page, types a sentence, runs it, and
checks what a user would see: the heatmap appears with one cell per (query, key) pair of the
map the API returns, every cell carries the API's weight, the map and head selectors redraw
it, and hovering a token highlights what it attends to. With --embedding-model it also serves
a Hugging Face folder as "minilm" and checks its page: the embedding shown is the API's and
its heatmap carries the API's weights. Takes a screenshot, and exits non-zero on any
failure; 77 (ctest's skip) only when chromium or chromedriver is missing.

  serve_page_test.py --attn build/apps/attn --out build/tests/browser
  serve_page_test.py --attn build/apps/attn --model runs/bible_transformer \\
      --text "En el principio creó Dios los cielos y la tierra." --screenshot docs/images/serve.png
"""
import argparse
import ctypes
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request

SKIP = 77
SYSTEM_PYTHON = "/usr/bin/python3"  # where Debian's python3-selenium lives


def import_selenium():
    """selenium, from this interpreter or, failing that, from Debian's (re-running there)."""
    try:
        import selenium  # noqa: F401
        return
    except ImportError:
        pass
    if os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON) and os.path.exists(SYSTEM_PYTHON):
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    sys.exit("FAIL: the python module selenium is missing (Debian: apt-get install python3-selenium)")


def find_browser():
    """(chromium, chromedriver) paths, or a skip when either is missing."""
    browser = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
                    if shutil.which(name)), None)
    driver = shutil.which("chromedriver") or next(
        (path for path in ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver") if os.path.exists(path)), None)
    if browser is None or driver is None:
        missing = "chromium" if browser is None else "chromedriver"
        print(f"SKIP: {missing} is not installed (Debian: apt-get install chromium chromium-driver); "
              "the page was not tested in a browser")
        sys.exit(SKIP)
    return browser, driver


# ---- a tiny model -----------------------------------------------------------------------------

SPANISH = ["uno", "dos", "tres", "cuatro", "cinco", "seis"]
ENGLISH = ["one", "two", "three", "four", "five", "six"]


def write_numbers(directory, split, seed, count):
    """Sentences of 2 to 5 number words; the English side translates them word by word."""
    generator = random.Random(seed)
    source, target = [], []
    for _ in range(count):
        words = [generator.randrange(len(SPANISH)) for _ in range(generator.randint(2, 5))]
        source.append(" ".join(SPANISH[w] for w in words))
        target.append(" ".join(ENGLISH[w] for w in words))
    for side, lines in (("es", source), ("en", target)):
        with open(os.path.join(directory, f"{split}.{side}"), "w", encoding="utf-8") as file:
            file.write("\n".join(lines) + "\n")


def train_tiny_model(attn, work):
    data = os.path.join(work, "data")
    os.makedirs(data, exist_ok=True)
    write_numbers(data, "train", 1, 300)
    write_numbers(data, "valid", 2, 20)
    config = os.path.join(work, "numbers.toml")
    with open(config, "w", encoding="utf-8") as file:
        file.write(f"""[task]
kind = "translation"
[data]
dir = "{data}"
max_tokens = 512
max_length = 32
[tokenizer]
vocab_size = 40
model_type = "bpe"
[model.transformer]
d_model = 32
num_heads = 2
d_ff = 64
encoder_layers = 2
decoder_layers = 2
dropout = 0.0
max_length = 32
[eval]
bleu_sentences = 0
[train]
optimizer = "adam"
learning_rate = 0.003
validate_every = 0
progress = "none"
""")
    run_dir = os.path.join(work, "numbers_run")
    shutil.rmtree(run_dir, ignore_errors=True)
    result = subprocess.run([attn, "train", "--config", config, "--run-dir", run_dir, "--max-steps", "150"],
                            capture_output=True, text=True, timeout=400)
    if result.returncode != 0:
        raise RuntimeError(f"attn train failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return run_dir


# ---- the server -------------------------------------------------------------------------------

def die_with_parent():
    """In the child: the kernel kills the server if this script dies, however it dies."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Server:
    def __init__(self, attn, models, log_path):
        self.log = open(log_path, "w", encoding="utf-8")
        model_arguments = [argument for model in models for argument in ("--model", model)]
        self.process = subprocess.Popen(
            [attn, "serve", *model_arguments, "--port", "0", "--threads", "1"],
            stdout=subprocess.PIPE, stderr=self.log, text=True, preexec_fn=die_with_parent)
        self.url = self._read_url(timeout=120)

    def _read_url(self, timeout):
        found = {}
        reader = threading.Thread(target=lambda: found.setdefault("line", self.process.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(timeout)
        line = found.get("line", "")
        prefix = "attn serve: listening on "
        if not line.startswith(prefix):
            raise RuntimeError(f"attn serve did not start (exit {self.process.poll()}): {line!r}; "
                               f"see {self.log.name}")
        return line[len(prefix):].strip()

    def post(self, route, body):
        request = urllib.request.Request(self.url + route, data=json.dumps(body).encode("utf-8"),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.load(response)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


# ---- the page ---------------------------------------------------------------------------------

class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def start_browser(browser, driver_path, width, height):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as ChromeService

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={width},{height}", "--force-device-scale-factor=1"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=ChromeService(executable_path=driver_path), options=options)


def wait_for(driver, condition, what, timeout=120):
    from selenium.webdriver.support.ui import WebDriverWait
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda _: condition())
    except Exception as error:  # TimeoutException, or the page went away
        raise Failure(f"timed out waiting for {what}: {error}")


def page_state(driver):
    return driver.execute_script("return document.body.dataset.state")


def cells(driver):
    return driver.find_elements("css selector", "#heatmap td.cell")


def cell_weights(driver):
    """{(q, k): weight} of the drawn heatmap, read in one call."""
    rows = driver.execute_script(
        "return Array.from(document.querySelectorAll('#heatmap td.cell'))"
        ".map(c => [Number(c.dataset.q), Number(c.dataset.k), Number(c.dataset.weight)]);")
    return {(q, k): w for q, k, w in rows}


def expect_weights(driver, matrix, what):
    drawn = cell_weights(driver)
    expected = {(q, k): w for q, row in enumerate(matrix) for k, w in enumerate(row)}
    check(drawn.keys() == expected.keys(), f"{what}: the cells are not one per (query, key)")
    worst = max(abs(drawn[key] - expected[key]) for key in expected)
    check(worst <= 1e-6, f"{what}: a cell's weight differs from the API's by {worst}")


def mean_of_heads(weights):
    heads = len(weights)
    return [[sum(head[q][k] for head in weights) / heads for k in range(len(weights[0][q]))]
            for q in range(len(weights[0]))]


def select_option(driver, select_id, value):
    from selenium.webdriver.support.ui import Select
    Select(driver.find_element("id", select_id)).select_by_value(value)


def run_page(driver, server, text, screenshot, hover_row):
    from selenium.webdriver.common.action_chains import ActionChains

    driver.get(server.url)
    wait_for(driver, lambda: page_state(driver) in ("ready", "error"), "the page to list the models")
    check(page_state(driver) == "ready", f"the page did not load: {driver.find_element('id', 'error').text}")

    expected = server.post("api/translate", {"text": text, "attention": True})
    maps = expected["attention"]["maps"]
    default = max(i for i, m in enumerate(maps) if m["kind"] == "cross")  # the page's first map
    rows, columns = len(maps[default]["query_tokens"]), len(maps[default]["key_tokens"])

    box = driver.find_element("id", "text")
    box.clear()
    box.send_keys(text)
    driver.find_element("id", "run").click()
    wait_for(driver, lambda: page_state(driver) in ("done", "error"), "the translation")
    check(page_state(driver) == "done", f"the page shows an error: {driver.find_element('id', 'error').text}")
    check(driver.find_element("css selector", "#output .output-text").text == (expected["translation"] or "(empty)"),
          "the page's translation is not the API's")

    count = len(cells(driver))
    check(count == rows * columns, f"the heatmap has {count} cells, expected {rows} x {columns} = {rows * columns}")
    check(len(driver.find_elements("css selector", "#heatmap th.query-token")) == rows, "wrong number of row labels")
    check(len(driver.find_elements("css selector", "#heatmap th.key-token")) == columns, "wrong number of column labels")
    expect_weights(driver, mean_of_heads(maps[default]["weights"]), "average of heads")
    print(f"heatmap: {rows} x {columns} = {count} cells ({maps[default]['name']}, average of heads)")

    select_option(driver, "head", "0")
    expect_weights(driver, maps[default]["weights"][0], "head 1")
    select_option(driver, "map", "0")  # the first encoder layer: source x source
    source = len(maps[0]["query_tokens"])
    check(len(cells(driver)) == source * source, "the encoder map did not redraw to source x source")
    expect_weights(driver, mean_of_heads(maps[0]["weights"]), "encoder layer 1")
    select_option(driver, "map", str(default))

    # Hovering an output token: its row is marked and the source tokens shaded.
    hovered = driver.find_elements("css selector", "#heatmap th.query-token")[min(hover_row, rows - 1)]
    ActionChains(driver).move_to_element(hovered).perform()
    active = driver.find_elements("css selector", "#heatmap td.cell.active")
    check(len(active) == columns, f"hovering a token marked {len(active)} cells, expected its row of {columns}")
    shaded = [key for key in driver.find_elements("css selector", "#heatmap th.key-token")
              if key.get_attribute("style")]
    check(len(shaded) == columns, "hovering a token did not shade the tokens it attends to")
    check("attends most to" in driver.find_element("id", "hover-info").text, "no hover description")

    driver.save_screenshot(screenshot)
    print(f"screenshot: {screenshot}")
    errors = [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]
    check(not errors, f"the browser console has errors: {errors}")


def run_embedding_page(driver, server, text):
    """The pretrained encoder: choose it, embed a sentence, and check the numbers shown and the
    last layer's heatmap against the API."""
    driver.get(server.url)
    wait_for(driver, lambda: page_state(driver) in ("ready", "error"), "the page to list the models")
    select_option(driver, "model", "minilm")
    check(driver.find_element("id", "run").text == "Embed", "the embedding model's button is not 'Embed'")
    expected = server.post("api/embed", {"model": "minilm", "text": text, "attention": True})
    maps = expected["attention"]["maps"]
    tokens = len(expected["attention"]["tokens"])
    box = driver.find_element("id", "text")
    box.clear()
    box.send_keys(text)
    driver.find_element("id", "run").click()
    wait_for(driver, lambda: page_state(driver) in ("done", "error"), "the embedding")
    check(page_state(driver) == "done", f"the page shows an error: {driver.find_element('id', 'error').text}")
    shown = driver.find_element("css selector", "#output .output-text").text
    check(shown.startswith(f"[{expected['embedding'][0]:.4f}"), f"the page shows {shown!r}, not the API's embedding")
    check(len(cells(driver)) == tokens * tokens, f"the heatmap has {len(cells(driver))} cells, expected {tokens}²")
    expect_weights(driver, mean_of_heads(maps[-1]["weights"]), "last layer, average of heads")
    print(f"embedding: {expected['dimensions']} numbers; heatmap {tokens} x {tokens} ({maps[-1]['name']})")
    errors = [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]
    check(not errors, f"the browser console has errors: {errors}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attn", required=True, help="the attn program")
    parser.add_argument("--out", required=True, help="a folder for the model, logs and screenshot")
    parser.add_argument("--model", help="serve this run instead of training a tiny one")
    parser.add_argument("--embedding-model", help="also serve this Hugging Face folder as 'minilm' and check its page")
    parser.add_argument("--text", default="tres uno cinco dos", help="the sentence to type")
    parser.add_argument("--screenshot", help="where to save it (default: OUT/serve_page.png)")
    parser.add_argument("--size", default="1280x900", help="window size, WIDTHxHEIGHT")
    parser.add_argument("--hover", type=int, default=0, help="the output token to hover over (0-based)")
    arguments = parser.parse_args()

    browser, driver_path = find_browser()
    import_selenium()
    os.makedirs(arguments.out, exist_ok=True)
    screenshot = os.path.abspath(arguments.screenshot or os.path.join(arguments.out, "serve_page.png"))
    width, height = (int(x) for x in arguments.size.split("x"))

    server = driver = None
    try:
        started = time.time()
        model = arguments.model or train_tiny_model(arguments.attn, os.path.join(arguments.out, "work"))
        print(f"model: {model} ({time.time() - started:.1f} s)")
        models = [model] + ([f"minilm={arguments.embedding_model}"] if arguments.embedding_model else [])
        server = Server(arguments.attn, models, os.path.join(arguments.out, "serve.log"))
        print(f"server: {server.url}")
        driver = start_browser(browser, driver_path, width, height)
        run_page(driver, server, arguments.text, screenshot, arguments.hover)
        if arguments.embedding_model:
            run_embedding_page(driver, server, "A man is eating food.")
        print("PASS")
        return 0
    except Failure as failure:
        print(f"FAIL: {failure}")
        if driver is not None:
            driver.save_screenshot(os.path.join(arguments.out, "serve_page_failure.png"))
        return 1
    finally:
        if driver is not None:
            driver.quit()
        if server is not None:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
