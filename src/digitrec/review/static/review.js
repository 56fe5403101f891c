// digitrec review: the least sure fields first, decided by keyboard; every decision is kept
// by the server before the next field shows. No framework, no network beyond this server.
"use strict";

const picture = document.getElementById("picture");
const reading = document.getElementById("reading");
const confidence = document.getElementById("confidence");
const decided = document.getElementById("decided");
const typed = document.getElementById("typed");
const counts = document.getElementById("counts");
const statusLine = document.getElementById("status");
const field = document.getElementById("field");
const finished = document.getElementById("finished");

const AHEAD = 5; // pictures fetched ahead of the one shown, so the next shows at once
const REFILL_BELOW = 20; // ask for more of the queue when fewer than this are waiting

let queue = []; // rows to review, least sure first: {id, name, number, confidence, error}
let position = 0; // the row shown, in `queue`
const pictures = new Map(); // id -> Promise of an object URL
const details = new Map(); // id -> Promise of where the reader saw the number (or null)
const shot = document.getElementById("shot");
const alternatives = document.getElementById("alternatives");
const SHOWN_ALTERNATIVE = 0.05; // a digit's second guess is shown when at least this likely
const seen = new Set(); // ids ever queued: a refill brings no row twice
let busy = false; // from a key that decides until the next field is on screen: keys meanwhile are ignored
let current = null; // the row on screen: what a key decides (never one not yet shown)
// What is being walked: the queue (least sure first, shrinking as decisions are made), or
// rows to look at again: those read as a number, or those accepted without review.
let listing = { kind: "queue" };

async function api(path, init = {}) {
  const key = sessionStorage.getItem("digitrec-api-key");
  const withKey = () => ({ ...init, headers: { ...(init.headers || {}), ...(key ? { "X-API-Key": key } : {}) } });
  let response = await fetch(path, withKey());
  if (response.status === 401) {
    const asked = window.prompt("This server needs its API key:");
    if (asked) {
      sessionStorage.setItem("digitrec-api-key", asked);
      response = await fetch(path, { ...init, headers: { ...(init.headers || {}), "X-API-Key": asked } });
    }
  }
  return response;
}

function pictureOf(id) {
  if (!pictures.has(id)) {
    const url = api(`/api/review/picture/${id}`)
      .then(async (r) => (r.ok ? URL.createObjectURL(await r.blob()) : null))
      .catch(() => {
        pictures.delete(id); // the server was away: ask again next time
        return null;
      });
    pictures.set(id, url);
  }
  return pictures.get(id);
}

function detailsOf(id) {
  if (!details.has(id)) details.set(id, api(`/api/review/details/${id}`).then((r) => (r.ok ? r.json() : null)).catch(() => null));
  return details.get(id);
}

// The reader's boxes over the picture: the number's, and each digit's, placed where the
// picture is drawn (it is scaled to fit its frame, keeping its shape).
function drawBoxes(found) {
  shot.querySelectorAll(".box").forEach((b) => b.remove());
  if (!found || !picture.naturalWidth) return;
  const w = picture.clientWidth, h = picture.clientHeight;
  const scale = Math.min(w / picture.naturalWidth, h / picture.naturalHeight);
  const dx = (w - picture.naturalWidth * scale) / 2, dy = (h - picture.naturalHeight * scale) / 2;
  const place = ([x, y, bw, bh], kind) => {
    const box = document.createElement("div");
    box.className = "box " + kind;
    Object.assign(box.style, { left: `${dx + x * scale}px`, top: `${dy + y * scale}px`, width: `${bw * scale}px`, height: `${bh * scale}px` });
    shot.append(box);
  };
  found.numbers.forEach((n) => place(n.box, "number"));
  found.digits.forEach((d) => place(d.box, "digit"));
}

function showAlternatives(found) {
  alternatives.replaceChildren();
  if (!found || !found.digits.length) return;
  alternatives.append("Each digit and its next guess: ");
  found.digits.forEach((d, i) => {
    const [second, p] = d.top3[1] || [null, 0];
    const chip = document.createElement("span");
    const digit = document.createElement("b");
    digit.textContent = String(d.digit);
    chip.append(digit, p >= SHOWN_ALTERNATIVE ? ` (or ${second}, ${(100 * p).toFixed(0)}%)` : "");
    alternatives.append(i ? " · " : "", chip);
  });
}

function fetchAhead() {
  for (const item of queue.slice(position, position + AHEAD + 1)) { pictureOf(item.id); detailsOf(item.id); }
  for (const item of queue.slice(0, Math.max(0, position - 10))) { // keep a few behind for Backspace
    const url = pictures.get(item.id);
    if (url) url.then((u) => u && URL.revokeObjectURL(u));
    pictures.delete(item.id);
    details.delete(item.id);
  }
}

// Lists are paged by the key of the last row held (confidence, id), not by an offset:
// they shrink as rows are decided, and an offset would skip rows.
async function refill() {
  const asked = listing;
  const last = queue[queue.length - 1];
  const after = last ? `&after_confidence=${last.confidence}&after_id=${last.id}` : "";
  let url = `/api/review/queue?count=100${after}`;
  if (listing.kind === "number") url = `/api/review/rows?number=${encodeURIComponent(listing.number)}&count=100${after}`;
  if (listing.kind === "accepted") url = `/api/review/rows?count=100${after}`;
  const response = await api(url);
  const more = response.ok ? await response.json() : [];
  if (asked !== listing) return; // the person switched lists meanwhile
  for (const item of more) if (!seen.has(item.id)) { seen.add(item.id); queue.push(item); }
}

// Switch what is walked; the decisions already made stay, and any row can be decided again.
async function walk(next) {
  listing = next;
  queue = [];
  position = 0;
  seen.clear();
  document.getElementById("back-to-queue").hidden = next.kind === "queue";
  document.getElementById("mode").textContent =
    next.kind === "number" ? `Rows now read as ${next.number || "no number"}: decide any of them again.` :
    next.kind === "accepted" ? "Rows accepted as read, least sure first: decide any of them again." : "";
  field.hidden = false;
  finished.hidden = true;
  await show();
}

document.getElementById("browse").addEventListener("submit", (e) => {
  e.preventDefault();
  const number = document.getElementById("browse-number").value.trim();
  if (/^[0-9]*$/.test(number)) walk({ kind: "number", number });
});
document.getElementById("browse-accepted").addEventListener("click", () => walk({ kind: "accepted" }));
document.getElementById("back-to-queue").addEventListener("click", () => walk({ kind: "queue" }));

function showCounts(s) {
  const errors = s.estimated_errors_accepted == null ? "" : `, about ${s.estimated_errors_accepted} wrong among them`;
  const bar = s.precision == null ? `confidence ≥ ${s.bar}` : `${(100 * s.precision).toFixed(1)}% precision: confidence ≥ ${s.bar.toFixed(4)}`;
  const learned = Object.values(s.bars); // the bars of the models that read rows again, each its own
  const again = learned.length && s.precision != null ? `; read again: ≥ ${learned.map((b) => b.toFixed(4)).join(", ")}` : "";
  counts.textContent = `${s.accepted.toLocaleString()} of ${s.rows.toLocaleString()} accepted as read (${bar}${again}${errors}) · ` +
    `${s.decided.toLocaleString()} decided by you · ${s.left.toLocaleString()} left`;
}

async function show() {
  if (position >= queue.length - REFILL_BELOW) await refill();
  if (position >= queue.length) {
    current = null;
    busy = false;
    field.hidden = true;
    finished.hidden = false;
    document.getElementById("finished-text").textContent =
      listing.kind === "queue" ? "Nothing left to review." : "No more rows in this list.";
    done();
    return;
  }
  const item = queue[position];
  const url = await pictureOf(item.id);
  if (queue[position] !== item) return; // moved on meanwhile
  picture.src = url || "";
  drawBoxes(null); // the last field's boxes and guesses go at once
  showAlternatives(null);
  picture.alt = url ? `The picture ${item.name}` : `The picture ${item.name} is not shown`;
  reading.textContent = item.number || (item.error ? "could not be read" : "no number found");
  reading.classList.toggle("none", !item.number);
  confidence.textContent = item.number ? `${(100 * item.confidence).toFixed(1)}% sure · ${item.name}` : item.name;
  decided.textContent = item.decision ? `you decided: ${describe(item.decision)}` : "";
  typed.value = "";
  typed.focus();
  fetchAhead();
  current = item;
  busy = false;
  done();
  decorate(item); // not awaited: the field is on screen, and typing, at once
}

// Where the reader saw the number comes a moment later (read again on the server,
// fetched ahead); drawn only if the field is still the one shown.
async function decorate(item) {
  const found = await detailsOf(item.id);
  if (queue[position] !== item) return;
  if (!picture.complete) await new Promise((resolve) => picture.addEventListener("load", resolve, { once: true }));
  if (queue[position] !== item) return;
  drawBoxes(found);
  showAlternatives(found);
}

function describe(d) {
  return d.action === "correct" ? `it shows ${d.number}` : d.action === "accept" ? `it shows ${d.number}, as read` : d.action;
}

// The page says when a field is on screen: <body data-state="idle" data-shown="N">, N
// counting the fields shown, and a `digitrec:shown` event (the browser tests and the
// latency bench wait for these, not for a guessed delay).
let shownCount = 0;
function done() {
  document.body.dataset.state = "idle";
  document.body.dataset.shown = String(++shownCount);
  document.dispatchEvent(new CustomEvent("digitrec:shown"));
}

async function decide(action, number = "") {
  if (busy || current === null) return;
  busy = true;
  document.body.dataset.state = "saving";
  const item = current;
  try {
    const response = await api("/api/review/decide", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ id: item.id, action, number }),
    });
    const answer = await response.json();
    if (response.status === 409 && answer.row) { // read again meanwhile: show the new reading, decide again
      Object.assign(item, answer.row);
      details.delete(item.id);
      await show();
      statusLine.textContent = answer.error;
      return;
    }
    if (!response.ok) throw new Error(answer.error || response.statusText);
    item.decision = answer.decision;
    showCounts(answer);
    statusLine.textContent = "";
    position = queue.indexOf(item) + 1;
    if (queueStale) { // the reader learned meanwhile: what is left, in its new order, from the start
      queueStale = false;
      queue = [];
      position = 0;
      seen.clear();
    }
  } catch (err) {
    statusLine.textContent = "not saved: " + err.message;
    busy = false;
    done();
    return;
  }
  await show(); // ends `busy` when the next field is on screen
}

typed.addEventListener("keydown", (e) => {
  if (busy) {
    e.preventDefault(); // the field on screen is being left: a key now would land on the wrong one
    return;
  }
  if (e.key === "Enter") {
    e.preventDefault();
    const text = typed.value.trim();
    text ? decide("correct", text) : decide("accept", current.number); // what the person saw
  } else if (e.key === "-" && !typed.value) {
    e.preventDefault();
    decide("no-number");
  } else if ((e.key === "x" || e.key === "X") && !typed.value) {
    e.preventDefault();
    decide("unreadable");
  } else if (e.key === "Backspace" && !typed.value && position > 0) {
    e.preventDefault();
    busy = true;
    position -= 1;
    show();
  } else if (e.key.length === 1 && !/[0-9]/.test(e.key) && !e.ctrlKey && !e.metaKey) {
    e.preventDefault(); // digits only: what a person types is a number
  }
});

// Learning: the server fine-tunes the reader on the decisions so far in the background,
// then reads the rows still waiting again; the page follows it, and once it is done the
// queue is fetched afresh before the next field (rows may have left it, or moved).
const learnButton = document.getElementById("learn-start");
const learnBar = document.getElementById("learn-progress");
const learnStatus = document.getElementById("learn-status");
const LEARN_POLL_MS = 1000;
let queueStale = false; // set when a round ends: the next field comes from a fresh queue

function showLearning(p) {
  const running = ["training", "calibrating", "reading"].includes(p.stage);
  learnButton.disabled = running;
  learnBar.hidden = !running;
  if (p.total) { learnBar.max = p.total; learnBar.value = p.done; } else learnBar.removeAttribute("value");
  learnStatus.textContent = p.stage === "idle" ? "" : p.stage === "failed" ? `learning failed: ${p.message}` : p.message;
  document.body.dataset.learn = p.stage;
  return running;
}

async function followLearning() {
  for (;;) {
    const response = await api("/api/review/learn");
    if (!response.ok) return;
    const p = await response.json();
    if (!p.available) { document.getElementById("learn").hidden = true; return; }
    if (!showLearning(p)) {
      if (p.stage === "done") {
        queueStale = listing.kind === "queue";
        showCounts(await (await api("/api/review/state")).json());
        if (current === null && queueStale) walk({ kind: "queue" }); // the queue had run out: look again
      }
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, LEARN_POLL_MS));
  }
}

learnButton.addEventListener("click", async () => {
  const response = await api("/api/review/learn", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
  const answer = await response.json();
  if (!response.ok) { learnStatus.textContent = answer.error || response.statusText; return; }
  showLearning(answer);
  typed.focus();
  followLearning();
});

(async () => {
  followLearning(); // a round may be running already (the page was reloaded)
  const s = await (await api("/api/review/state")).json();
  document.getElementById("results").textContent = s.results;
  showCounts(s);
  await show();
})();
