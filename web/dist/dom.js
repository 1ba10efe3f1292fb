// dom.js builds elements from data without innerHTML, so no incident
// title or description can ever become markup.

// el creates a tag with attributes (on* keys become listeners, `text` sets
// textContent) and appends children (nodes, strings, or null to skip).
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// fieldErrors shows a problem's errors[] next to the form controls whose
// data-field names the same field, and the rest (and the detail) in the
// form's .form-error; it returns how many fields it marked.
export function fieldErrors(form, err) {
  clearFieldErrors(form);
  let marked = 0;
  const loose = [];
  for (const { field, message } of err.fields || []) {
    const control = form.querySelector(`[data-field="${CSS.escape(field)}"]`);
    if (!control) {
      loose.push(`${field}: ${message}`);
      continue;
    }
    const out = form.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
    if (out) out.textContent = out.textContent ? `${out.textContent}; ${message}` : message;
    control.setAttribute('aria-invalid', 'true');
    if (out) control.setAttribute('aria-describedby', out.id);
    marked++;
  }
  const general = form.querySelector('.form-error');
  if (general && (loose.length || !marked)) general.textContent = loose.length ? loose.join('; ') : err.message;
  const first = form.querySelector('[aria-invalid="true"]');
  if (first) first.focus();
  return marked;
}

export function clearFieldErrors(form) {
  for (const out of form.querySelectorAll('[data-error-for], .form-error')) out.textContent = '';
  for (const c of form.querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
}

// field is a labelled control with the error slot fieldErrors fills.
export function field(label, name, control) {
  const id = `fld-${name.replace(/[^a-z0-9]+/gi, '-')}`;
  control.id = id;
  control.dataset.field = name;
  return el('div', { class: 'field' },
    el('label', { for: id, text: label }),
    control,
    el('span', { class: 'field-error', id: `${id}-error`, 'data-error-for': name, role: 'alert' }));
}

// options makes <option>s from values, with an optional leading blank.
export function options(values, { blank, selected, label = (v) => v } = {}) {
  const out = [];
  if (blank !== undefined) out.push(el('option', { value: '', text: blank }));
  for (const v of values) out.push(el('option', { value: v, selected: v === selected, text: label(v) }));
  return out;
}
