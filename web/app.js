// The attn serve page: runs a model through the JSON API (docs/SERVE.md) and draws its
// attention maps as a heatmap, one table cell per (query, key) pair. Plain JavaScript with no
// dependencies, so the page works offline and is compiled into the attn program as is.
'use strict';

(function () {
  const ROUTES = { translation: 'api/translate', classification: 'api/classify', language_model: 'api/generate', embedding: 'api/embed' };
  const ACTIONS = { translation: 'Translate', classification: 'Classify', language_model: 'Generate', embedding: 'Embed' };
  const KIND_TITLES = { translation: 'Translation', classification: 'Classification', language_model: 'Generation', embedding: 'Sentence embedding' };
  const MAP_KINDS = {
    encoder_self: 'encoder self-attention',
    decoder_self: 'decoder self-attention',
    cross: 'cross-attention',
    pooling: 'attention pooling',
  };
  const MAP_HELP = {
    encoder_self: 'Each row is a source token; its cells show how it spread its attention over the source.',
    decoder_self: 'Each row is a token of the text being produced; it attends only to the tokens up to itself.',
    cross: 'Each row is an output token (the one that position predicts); its cells show which source tokens the model looked at to produce it.',
    pooling: 'The classifier pools the words with one learned query: its weights say which words decided the label.',
  };
  const DECODING_FIELDS = ['method', 'beam_size', 'length_penalty', 'max_length', 'temperature', 'top_k', 'top_p', 'seed'];

  const state = { models: [], result: null, maps: [], matrix: null };
  const byId = (id) => document.getElementById(id);

  // ---- the API --------------------------------------------------------------------------------

  async function api(path, body) {
    const options = body === undefined ? {} : {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    };
    const response = await fetch(path, options);
    let payload = null;
    try {
      payload = await response.json();
    } catch (error) {
      payload = null;
    }
    if (!response.ok) {
      throw new Error(payload && payload.error ? payload.error : `${response.status} ${response.statusText}`);
    }
    return payload;
  }

  function setStatus(text, pageState) {
    byId('status').textContent = text;
    document.body.dataset.state = pageState;
  }

  function showError(message) {
    const box = byId('error');
    box.textContent = message;
    box.hidden = !message;
  }

  // ---- models and options ---------------------------------------------------------------------

  function selectedModel() {
    return state.models.find((model) => model.name === byId('model').value);
  }

  function fillModels(models) {
    const select = byId('model');
    select.replaceChildren();
    for (const kind of Object.keys(ROUTES)) {
      const ofKind = models.filter((model) => model.kind === kind);
      if (ofKind.length === 0) continue;
      const group = document.createElement('optgroup');
      group.label = KIND_TITLES[kind];
      for (const model of ofKind) group.append(new Option(`${model.name} (${model.arch})`, model.name));
      select.append(group);
    }
  }

  function showDecodingFields() {
    const method = byId('method').value;
    for (const label of document.querySelectorAll('#decoding label[data-for]')) {
      label.hidden = label.dataset.for !== method;
    }
  }

  function onModelChange() {
    const model = selectedModel();
    if (!model) return;
    byId('run').textContent = ACTIONS[model.kind];
    byId('text').placeholder = model.kind === 'language_model' ? 'Type the start of a paragraph' : 'Type a sentence';
    const details = [`${model.kind.replace('_', ' ')}`, `up to ${model.max_input_tokens} tokens`];
    if (model.labels) details.push(`labels: ${model.labels.join(', ')}`);
    if (model.dimensions) details.push(`${model.dimensions} dimensions, ${model.pooling} pooling${model.normalize ? ', normalised' : ''}`);
    byId('model-info').textContent = details.join(' · ');
    const decoding = byId('decoding');
    decoding.hidden = !model.decoding;
    if (model.decoding) {
      for (const field of DECODING_FIELDS) byId(field).value = model.decoding[field];
      byId('max_length').max = model.max_output_tokens;
      byId('beam_size').max = 16;
      showDecodingFields();
    }
    clearResult();
  }

  function requestBody(model) {
    const body = { model: model.name, text: byId('text').value, attention: byId('want-attention').checked };
    if (!model.decoding) return body;
    body.method = byId('method').value;
    for (const field of DECODING_FIELDS.slice(1)) {
      const value = byId(field).value;
      if (value !== '') body[field] = Number(value);
    }
    return body;
  }

  // ---- running a model ------------------------------------------------------------------------

  async function run(event) {
    event.preventDefault();
    const model = selectedModel();
    if (!model) return;
    showError('');
    byId('run').disabled = true;
    setStatus('running…', 'running');
    const started = performance.now();
    try {
      const result = await api(ROUTES[model.kind], requestBody(model));
      state.result = result;
      renderOutput(model, result);
      renderAttention(result.attention);
      setStatus(`done in ${Math.round(performance.now() - started)} ms`, 'done');
    } catch (error) {
      showError(error.message);
      setStatus('error', 'error');
    } finally {
      byId('run').disabled = false;
    }
  }

  function clearResult() {
    byId('result').hidden = true;
    byId('attention').hidden = true;
    byId('heatmap').replaceChildren();
    state.result = null;
    state.maps = [];
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function renderOutput(model, result) {
    const output = byId('output');
    output.replaceChildren();
    byId('result-title').textContent = KIND_TITLES[model.kind];
    if (model.kind === 'translation') {
      output.append(element('p', 'output-text', result.translation || '(empty)'));
      output.append(element('p', 'meta', `score ${result.score.toFixed(3)} · log-probability ${result.log_prob.toFixed(3)}`));
    } else if (model.kind === 'classification') {
      output.append(element('p', 'output-text', result.label));
      output.append(probabilityBars(result.probabilities, result.label));
    } else if (model.kind === 'embedding') {
      const norm = Math.sqrt(result.embedding.reduce((sum, value) => sum + value * value, 0));
      const shown = result.embedding.slice(0, 8).map((value) => value.toFixed(4)).join(', ');
      output.append(element('p', 'output-text embedding', `[${shown}, …]`));
      output.append(element('p', 'meta', `${result.dimensions} numbers · norm ${norm.toFixed(4)}`));
    } else {
      const text = element('p', 'output-text');
      text.append(element('span', 'prompt', result.text), element('span', 'continuation', result.continuation));
      output.append(text);
      const ending = result.finished ? 'ended the paragraph' : 'stopped at the length limit';
      output.append(element('p', 'meta', `${result.generated_tokens} tokens generated, ${ending}`));
    }
    byId('result').hidden = false;
  }

  function probabilityBars(probabilities, best) {
    const list = element('div', 'bars');
    const sorted = [...probabilities].sort((a, b) => b.probability - a.probability);
    for (const entry of sorted) {
      const row = element('div', entry.label === best ? 'bar best' : 'bar');
      const fill = element('span', 'fill');
      fill.style.width = `${(100 * entry.probability).toFixed(1)}%`;
      row.append(element('span', 'bar-label', entry.label), element('span', 'track'), element('span', 'bar-value', entry.probability.toFixed(3)));
      row.children[1].append(fill);
      list.append(row);
    }
    return list;
  }

  // ---- attention ------------------------------------------------------------------------------

  // The map shown first: the last cross-attention of a translation (the alignment), else the
  // last map (the top layer, or the classifier's pooling).
  function defaultMapIndex(maps) {
    for (let i = maps.length - 1; i >= 0; i--) if (maps[i].kind === 'cross') return i;
    return maps.length - 1;
  }

  function renderAttention(attention) {
    const section = byId('attention');
    if (!attention || !attention.maps || attention.maps.length === 0) {
      section.hidden = true;
      return;
    }
    state.maps = attention.maps;
    const select = byId('map');
    select.replaceChildren();
    attention.maps.forEach((map, index) => {
      const title = map.kind === 'pooling' ? MAP_KINDS.pooling : `${MAP_KINDS[map.kind]} · layer ${map.layer + 1}`;
      select.append(new Option(title, String(index)));
    });
    select.value = String(defaultMapIndex(attention.maps));
    section.hidden = false;
    onMapChange();
  }

  function onMapChange() {
    const map = state.maps[Number(byId('map').value)];
    const head = byId('head');
    head.replaceChildren(new Option('average of heads', 'average'));
    for (let h = 0; h < map.heads; h++) head.append(new Option(`head ${h + 1}`, String(h)));
    head.disabled = map.heads === 1;
    byId('map-help').textContent = `${MAP_HELP[map.kind] || ''} (${map.name}, ${map.heads} head${map.heads === 1 ? '' : 's'})`;
    drawMap();
  }

  // weights [H][Nq][Nk] -> [Nq][Nk] of one head, or their mean.
  function matrixOf(map, head) {
    if (head !== 'average') return map.weights[Number(head)];
    const rows = map.weights[0].length, columns = rows > 0 ? map.weights[0][0].length : 0;
    const mean = [];
    for (let q = 0; q < rows; q++) {
      const row = new Array(columns).fill(0);
      for (const weights of map.weights) for (let k = 0; k < columns; k++) row[k] += weights[q][k];
      mean.push(row.map((value) => value / map.heads));
    }
    return mean;
  }

  // A token as a label: spaces and line breaks made visible.
  function tokenLabel(token) {
    return token.replace(/ /g, '␣').replace(/\n/g, '⏎').replace(/\t/g, '⇥') || '∅';
  }

  function shade(weight, largest) {
    const alpha = largest > 0 ? weight / largest : 0;
    return `rgba(29, 78, 216, ${alpha.toFixed(3)})`;
  }

  function drawMap() {
    const map = state.maps[Number(byId('map').value)];
    const matrix = matrixOf(map, byId('head').value);
    state.matrix = matrix;
    let largest = 0;
    for (const row of matrix) for (const value of row) largest = Math.max(largest, value);
    byId('legend-max').textContent = largest.toFixed(2);

    const table = byId('heatmap');
    table.replaceChildren();
    table.dataset.rows = String(matrix.length);
    table.dataset.columns = String(map.key_tokens.length);
    const head = element('tr');
    head.append(element('th', 'corner'));
    map.key_tokens.forEach((token, k) => {
      const cell = element('th', 'key-token', tokenLabel(token));
      cell.dataset.k = String(k);
      head.append(cell);
    });
    const thead = element('thead');
    thead.append(head);
    const tbody = element('tbody');
    matrix.forEach((row, q) => {
      const tr = element('tr');
      const label = element('th', 'query-token', tokenLabel(map.query_tokens[q]));
      label.dataset.q = String(q);
      tr.append(label);
      row.forEach((weight, k) => {
        const cell = element('td', 'cell');
        cell.dataset.q = String(q);
        cell.dataset.k = String(k);
        cell.dataset.weight = String(weight);
        cell.style.backgroundColor = shade(weight, largest);
        cell.title = `${map.query_tokens[q]} → ${map.key_tokens[k]}: ${weight.toFixed(4)}`;
        tr.append(cell);
      });
      tbody.append(tr);
    });
    table.append(thead, tbody);
    drawTokenWeights(map, matrix);
  }

  // The classifier's words shaded by weight: the pooling weights, or for a Transformer
  // classifier the attention each word receives (the mean of its column).
  function drawTokenWeights(map, matrix) {
    const strip = byId('token-weights');
    strip.replaceChildren();
    const isClassifier = state.result && state.result.label !== undefined;
    strip.hidden = !isClassifier;
    if (!isClassifier) return;
    const weights = map.key_tokens.map((_, k) => matrix.reduce((sum, row) => sum + row[k], 0) / matrix.length);
    const largest = Math.max(...weights);
    map.key_tokens.forEach((token, k) => {
      const word = element('span', 'token', tokenLabel(token));
      word.style.backgroundColor = shade(weights[k], largest);
      word.title = weights[k].toFixed(4);
      strip.append(word, ' ');
    });
  }

  // Hovering a query token (or a cell) highlights its row and shades the key tokens by what
  // it gives them; hovering a key token highlights the column of who attends to it.
  function clearHighlight() {
    const table = byId('heatmap');
    for (const node of table.querySelectorAll('.active')) node.classList.remove('active');
    for (const node of table.querySelectorAll('th.key-token, th.query-token')) node.style.backgroundColor = '';
  }

  function highlightRow(q) {
    const table = byId('heatmap');
    const row = state.matrix[q];
    const largest = Math.max(...row);
    table.querySelector(`th.query-token[data-q="${q}"]`).classList.add('active');
    for (const cell of table.querySelectorAll(`td.cell[data-q="${q}"]`)) cell.classList.add('active');
    for (const key of table.querySelectorAll('th.key-token')) {
      key.style.backgroundColor = shade(row[Number(key.dataset.k)], largest).replace('29, 78, 216', '250, 204, 21');
    }
  }

  function highlightColumn(k) {
    const table = byId('heatmap');
    const column = state.matrix.map((row) => row[k]);
    const largest = Math.max(...column);
    table.querySelector(`th.key-token[data-k="${k}"]`).classList.add('active');
    for (const cell of table.querySelectorAll(`td.cell[data-k="${k}"]`)) cell.classList.add('active');
    for (const query of table.querySelectorAll('th.query-token')) {
      query.style.backgroundColor = shade(column[Number(query.dataset.q)], largest).replace('29, 78, 216', '250, 204, 21');
    }
  }

  function onHover(event) {
    const target = event.target.closest('td.cell, th.query-token, th.key-token');
    if (!target || !state.matrix) return;
    clearHighlight();
    const map = state.maps[Number(byId('map').value)];
    const info = byId('hover-info');
    if (target.classList.contains('key-token')) {
      const k = Number(target.dataset.k);
      highlightColumn(k);
      info.textContent = `who attends to “${map.key_tokens[k]}”`;
      return;
    }
    const q = Number(target.dataset.q);
    highlightRow(q);
    if (target.classList.contains('cell')) {
      const k = Number(target.dataset.k);
      info.textContent = `“${map.query_tokens[q]}” → “${map.key_tokens[k]}”: ${state.matrix[q][k].toFixed(4)}`;
    } else {
      const row = state.matrix[q];
      const best = row.indexOf(Math.max(...row));
      info.textContent = `“${map.query_tokens[q]}” attends most to “${map.key_tokens[best]}” (${row[best].toFixed(3)})`;
    }
  }

  // ---- start ----------------------------------------------------------------------------------

  function onKey(event) {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      byId('run-form').requestSubmit();
    }
  }

  async function start() {
    byId('model').addEventListener('change', onModelChange);
    byId('method').addEventListener('change', showDecodingFields);
    byId('run-form').addEventListener('submit', run);
    byId('text').addEventListener('keydown', onKey);
    byId('map').addEventListener('change', onMapChange);
    byId('head').addEventListener('change', drawMap);
    byId('heatmap').addEventListener('mouseover', onHover);
    byId('heatmap').addEventListener('mouseleave', clearHighlight);
    try {
      const data = await api('api/models');
      state.models = data.models;
      fillModels(data.models);
      onModelChange();
      byId('run').disabled = false;
      const count = data.models.length;
      setStatus(`${count} model${count === 1 ? '' : 's'} loaded`, 'ready');
    } catch (error) {
      showError(`cannot list the models: ${error.message}`);
      setStatus('error', 'error');
    }
  }

  start();
})();
