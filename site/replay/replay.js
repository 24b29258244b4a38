// The website's replay of a recorded dashboard run (no kernel on a static page).
//
// scripts/record_replay.py records the messages the kernel sent the dashboard's LivePlot while the
// course's Trainer ran; scripts/build_site.py copies this file, the recording and ganlib's own
// live_plot.js beside it, and puts a `.ganlib-replay` block where the dashboard's canvas is. Here a
// stand-in for the widget's model hands live_plot.js the recorded spec and, one by one, the recorded
// frames, exactly as JupyterLab hands it the kernel's: the drawing is the notebook's, unchanged.
//
// The block's data-state says where it is (a browser test reads it): loading, ready, playing,
// paused, ended or error; data-frame is the number of frames shown (1 to data-frames).

import widget from "./live_plot.js";

// What live_plot.js asks of a model: get(trait), on(event, fn) and send(message). The kernel's side
// of the conversation ("hello", "drawn") has no one to hear it here, so send drops it.
function standIn(recording) {
  const traits = { uid: recording.uid, spec: recording.spec, height: recording.height };
  const handlers = new Map();
  return {
    get: (name) => traits[name],
    on(event, fn) {
      if (!handlers.has(event)) handlers.set(event, []);
      handlers.get(event).push(fn);
    },
    send() {},
    deliver(content, buffers) {
      for (const fn of handlers.get("msg:custom") || []) fn(content, buffers);
    },
  };
}

async function fetchOk(url, how) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response[how]();
}

async function start(block) {
  const plot = block.querySelector(".replay-plot");
  const button = block.querySelector(".replay-play");
  const seek = block.querySelector(".replay-seek");
  const counter = block.querySelector(".replay-counter");
  const base = block.dataset.recording;
  const [recording, bytes] = await Promise.all([fetchOk(`${base}.json`, "json"), fetchOk(`${base}.bin`, "arrayBuffer")]);
  // Each buffer as a DataView on the one binary file, as the websocket's buffers arrive in JupyterLab.
  const messages = recording.messages.map((m) => ({
    content: m.content,
    buffers: m.buffers.map(([offset, length]) => new DataView(bytes, offset, length)),
  }));
  const model = standIn(recording);
  widget.initialize({ model });
  widget.render({ model, el: plot });
  const n = messages.length;
  const period = 1000 / (recording.frame_rate || 10);
  let shown = -1;
  let timer = null;
  block.dataset.frames = String(n);
  seek.max = String(n - 1);

  // Show frame i (0-based): forward by applying the frames in between (the histories append), back
  // by starting again from a cleared store, as a new run does in the notebook.
  const show = (i) => {
    if (i < shown) {
      model.deliver({ type: "clear" }, []);
      shown = -1;
    }
    for (let k = shown + 1; k <= i; k++) model.deliver(messages[k].content, messages[k].buffers);
    shown = i;
    const round = messages[i].content.round;
    counter.textContent = `frame ${i + 1} of ${n} · round ${round.toLocaleString("en")}`;
    block.dataset.frame = String(i + 1);
    seek.value = String(i);
  };
  const setState = (state) => {
    block.dataset.state = state;
    const playing = state === "playing";
    button.textContent = playing ? "Pause" : state === "ended" ? "Play again" : "Play";
    button.setAttribute("aria-pressed", String(playing));
  };
  const pause = (state = "paused") => {
    if (timer !== null) clearInterval(timer);
    timer = null;
    setState(state);
  };
  const tick = () => {
    if (shown + 1 >= n) pause("ended");
    else show(shown + 1);
  };
  const play = () => {
    if (shown + 1 >= n) show(0);
    timer = setInterval(tick, period);
    setState("playing");
  };
  button.addEventListener("click", () => (timer === null ? play() : pause()));
  seek.addEventListener("input", () => {
    pause();
    show(Number(seek.value));
  });
  show(0);
  button.disabled = false;
  seek.disabled = false;
  setState("ready");
}

for (const block of document.querySelectorAll(".ganlib-replay")) {
  block.dataset.state = "loading";
  start(block).catch((error) => {
    block.dataset.state = "error";
    block.querySelector(".replay-counter").textContent = `the recording could not be played: ${error.message}`;
    // An error a reader (and the site's browser test) sees in the console too.
    console.error("ganlib replay:", error);
  });
}
