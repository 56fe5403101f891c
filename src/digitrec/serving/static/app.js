// digitrec drawing board: pointer-event drawing, debounced live reading, photo upload.
// No framework and no network beyond this server.
"use strict";

const canvas = document.getElementById("canvas");
const ctx = canvas.getContext("2d");
const pen = document.getElementById("pen");
const penValue = document.getElementById("pen-value");
const prediction = document.getElementById("prediction");
const confidence = document.getElementById("confidence");
const statusLine = document.getElementById("status");
const digitsBox = document.getElementById("digits");
const numbersList = document.getElementById("numbers");
const photoView = document.getElementById("photo-view");
const photoImage = document.getElementById("photo-image");
const photoFrame = photoImage.parentElement;
const photoInput = document.getElementById("photo");
const result = document.getElementById("result");
const source = document.getElementById("source");
const unsure = document.getElementById("unsure");

// Below this confidence an answer is shown as unsure, with what to do about it. The
// confidence is the probability of the whole reading: on the register cells' validation
// part (bench/real_documents.py, 2026-12-04) the 13% of readings under 0.8 were right 62%
// of the time, the rest 98%.
const UNSURE_BELOW = 0.8;
const OPEN_GROUPS = 3; // several numbers: the first few groups of digit cards open, the rest collapsed

const strokes = []; // each: {width, points: [[x, y], ...]} in canvas pixels
let current = null;
let timer = null;
let inFlight = 0; // reads started; a reply is shown only if it is the newest
let input = "none"; // what is being read: "drawing", "photo" or "none"; set when the person acts, not when a reply comes

function paint() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = "#000";
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  for (const s of strokes) {
    ctx.lineWidth = s.width;
    ctx.beginPath();
    s.points.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    if (s.points.length === 1) ctx.lineTo(s.points[0][0] + 0.1, s.points[0][1]);
    ctx.stroke();
  }
}

function toCanvas(event) {
  const r = canvas.getBoundingClientRect();
  return [((event.clientX - r.left) * canvas.width) / r.width, ((event.clientY - r.top) * canvas.height) / r.height];
}

canvas.addEventListener("pointerdown", (e) => {
  e.preventDefault();
  if (input === "photo") forgetPhoto(); // one input at a time: drawing replaces the photo
  input = "drawing";
  canvas.setPointerCapture(e.pointerId);
  current = { width: Number(pen.value), points: [toCanvas(e)] };
  strokes.push(current);
  paint();
});
canvas.addEventListener("pointermove", (e) => {
  if (!current) return;
  e.preventDefault();
  current.points.push(toCanvas(e));
  paint();
  schedule(250);
});
function endStroke(e) {
  if (!current) return;
  current = null;
  schedule(60);
}
canvas.addEventListener("pointerup", endStroke);
canvas.addEventListener("pointercancel", endStroke);

pen.addEventListener("input", () => (penValue.textContent = pen.value));
document.getElementById("undo").addEventListener("click", () => {
  strokes.pop();
  paint();
  strokes.length ? schedule(0) : forgetPhoto();
});
document.getElementById("clear").addEventListener("click", () => {
  strokes.length = 0;
  paint();
  forgetPhoto();
});
photoInput.addEventListener("change", (e) => {
  const file = e.target.files[0];
  if (!file) return;
  strokes.length = 0; // one input at a time: the photo replaces the drawing
  paint();
  clearTimeout(timer);
  timer = null;
  input = "photo";
  const form = new FormData();
  form.append("file", file);
  if (photoImage.src.startsWith("blob:")) URL.revokeObjectURL(photoImage.src);
  photoImage.src = URL.createObjectURL(file);
  send(form, null, file.name);
});

// Back to nothing read: the drawing's reads, the photo, its object URL and the chosen file
// (choosing the same file again must be a change again).
function forgetPhoto() {
  showNothing();
  photoInput.value = "";
  if (photoImage.src.startsWith("blob:")) URL.revokeObjectURL(photoImage.src);
  photoImage.removeAttribute("src");
}

// The page says when its reading is done: <body data-state="reading"> from the moment a
// read is due until the latest one is shown, then "idle" and a `digitrec:read` event
// (scripts and the browser tests wait for that, not for a guessed delay).
function reading() {
  document.body.dataset.state = "reading";
}
function done() {
  document.body.dataset.state = "idle";
  document.dispatchEvent(new CustomEvent("digitrec:read"));
}

// `timer` is null when no read is due: a reply that comes while one is due (the person
// drew on) is shown but does not end the reading, or the page would say "idle" over an
// older drawing's text.
function schedule(delay) {
  clearTimeout(timer);
  reading();
  timer = setTimeout(() => {
    timer = null;
    readCanvas();
  }, delay);
}

function readCanvas() {
  if (!strokes.length) return showNothing();
  // Replies to earlier reads are stale from here. Encoding takes a moment: a photo, Clear
  // or Undo meanwhile makes this read stale too.
  const due = ++inFlight;
  canvas.toBlob((blob) => {
    if (due === inFlight && input === "drawing" && strokes.length) send(blob, "image/png");
  }, "image/png");
}

// A server started with --api-key answers 401 without it: ask once, keep it for the tab.
async function api(path, init = {}) {
  const withKey = () => {
    const key = sessionStorage.getItem("digitrec-api-key");
    return { ...init, headers: { ...(init.headers || {}), ...(key ? { "X-API-Key": key } : {}) } };
  };
  let response = await fetch(path, withKey());
  if (response.status === 401) {
    const key = window.prompt("This server needs its API key:");
    if (key) {
      sessionStorage.setItem("digitrec-api-key", key);
      response = await fetch(path, withKey());
    }
  }
  return response;
}

// `photo`: the uploaded file's name; null for the drawing.
async function send(body, type, photo = null) {
  const id = ++inFlight;
  reading();
  statusLine.textContent = "reading…";
  try {
    const response = await api("/api/v1/predict", { method: "POST", body, headers: type ? { "Content-Type": type } : {} });
    const data = await response.json();
    if (id !== inFlight) return; // a newer drawing is being read
    if (!response.ok) throw new Error(data.error || response.statusText);
    show(data, photo);
    if (timer === null) done();
  } catch (err) {
    if (id === inFlight) {
      statusLine.textContent = "error: " + err.message;
      if (timer === null) done();
    }
  }
}

function showNothing() {
  inFlight++;
  clearTimeout(timer);
  timer = null;
  input = "none";
  prediction.textContent = "";
  confidence.textContent = "";
  statusLine.textContent = "";
  source.textContent = "";
  result.dataset.source = "none";
  showSurety(true, null);
  digitsBox.replaceChildren();
  numbersList.replaceChildren();
  photoView.hidden = true;
  done();
}

function show(data, photo) {
  result.dataset.source = photo ? "photo" : "drawing";
  source.textContent = photo ? `Read from your photo ${photo}` : "Read from your drawing";
  prediction.textContent = data.text;
  statusLine.textContent = data.warning || "";
  confidence.textContent = data.digits.length ? `confidence ${(100 * data.confidence).toFixed(1)}%` : "";
  const numbers = data.numbers || [];
  // Each number is judged alone: the picture's confidence is the product of its numbers',
  // so six sure numbers would make an unsure picture.
  showSurety(numbers.every((n) => n.confidence >= UNSURE_BELOW), photo);
  digitsBox.replaceChildren(...(numbers.length > 1 ? numberGroups(numbers, data.digits) : data.digits.map(digitCard)));
  numbersList.replaceChildren(...numbers.map((n) => {
    const item = document.createElement("li");
    item.className = "number";
    item.dataset.box = n.box.join(",");
    item.textContent = `${n.text} (${(100 * n.confidence).toFixed(1)}%)`;
    return item;
  }));
  photoView.hidden = !photo;
  if (photo) drawBoxes(numbers);
}

// An unsure answer is drawn plainly, with a question mark, and says what to do.
function showSurety(sure, photo) {
  prediction.classList.toggle("unsure", !sure);
  result.dataset.sure = String(sure);
  unsure.hidden = sure;
  unsure.textContent = sure ? "" : photo
    ? "Not sure of this reading: check it, or take the photo closer, or crop it to the number."
    : "Not sure of this reading: check it, or clear and write the number again, larger and clearer.";
}

// Several numbers: one group of digit cards each (the API lists every number's digits in
// order), the first OPEN_GROUPS open.
function numberGroups(numbers, digits) {
  let next = 0;
  return numbers.map((n, i) => {
    const group = document.createElement("details");
    group.className = "number-group";
    group.open = i < OPEN_GROUPS;
    group.classList.toggle("unsure", n.confidence < UNSURE_BELOW);
    const title = document.createElement("summary");
    title.textContent = `${n.text} (${(100 * n.confidence).toFixed(1)}%)`;
    const mine = digits.slice(next, next + n.digits.length);
    next += n.digits.length;
    group.append(title, ...mine.map(digitCard));
    return group;
  });
}

// Boxes over the photo, placed in percent of its own size, so they follow the layout.
function drawBoxes(numbers) {
  const place = () => {
    photoFrame.querySelectorAll(".box").forEach((b) => b.remove());
    const w = photoImage.naturalWidth, h = photoImage.naturalHeight;
    for (const n of numbers) {
      const [x, y, bw, bh] = n.box;
      const box = document.createElement("div");
      box.className = "box";
      box.dataset.text = n.text;
      Object.assign(box.style, { left: `${(100 * x) / w}%`, top: `${(100 * y) / h}%`, width: `${(100 * bw) / w}%`, height: `${(100 * bh) / h}%` });
      const tag = document.createElement("span");
      tag.textContent = n.text;
      box.append(tag);
      photoFrame.append(box);
    }
  };
  photoImage.complete && photoImage.naturalWidth ? place() : photoImage.addEventListener("load", place, { once: true });
}

function digitCard(d, index) {
  const card = document.createElement("div");
  card.className = "digit";
  const img = document.createElement("img");
  img.src = "data:image/png;base64," + d.image;
  img.alt = `28x28 image the model read as ${d.digit}`;
  const bars = document.createElement("div");
  bars.className = "bars";
  bars.setAttribute("role", "img");
  const probabilities = d.probabilities;
  bars.setAttribute("aria-label", `digit ${index + 1}: ${d.digit} with probability ${(100 * d.confidence).toFixed(1)}%`);
  probabilities.forEach((prob, digit) => {
    const bar = document.createElement("div");
    bar.className = "bar" + (digit === d.digit ? " top" : "");
    bar.dataset.digit = String(digit);
    bar.dataset.probability = prob.toFixed(4);
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.height = `${Math.max(1, 100 * prob)}%`;
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = String(digit);
    bar.append(fill, label);
    bars.append(bar);
  });
  card.append(img, bars);
  return card;
}

api("/api/v1/model")
  .then((r) => r.json())
  .then((m) => {
    const acc = m.test_accuracy == null ? "" : `, ${(100 * m.test_accuracy).toFixed(2)}% on MNIST test`;
    document.getElementById("model").textContent = `${m.recipe} (${m.runtime}${acc})`;
  })
  .catch(() => {});
paint();
