// Run by node with @a2a-js/sdk 0.3 installed beside it: discover an agent, then one of
//   stream       stream a message to its end, then get the task;
//   cancel       stream a message, cancel the task once it works, read the stream to its
//                end, then get the task;
//   resubscribe  stream a message, leave the stream once the task works, resubscribe to
//                the task and read that to its end, then get the task.
// Usage: node client.mjs MODE URL TEXT [AGENT]. Prints one JSON object: what the old client
// saw (states as it names them). The test judges it.
import { ClientFactory } from "@a2a-js/sdk/client";
import { randomUUID } from "node:crypto";

const [mode, url, text, agent] = process.argv.slice(2);
const client = await new ClientFactory().createFromUrl(url);
const card = await client.getAgentCard();

function partsText(parts) {
  return parts.map((p) => p.text ?? "").join("");
}

function artifactsOf(task) {
  return Object.fromEntries((task.artifacts ?? []).map((a) => [a.name, partsText(a.parts)]));
}

/** What one stream (a send or a resubscribe) delivered, folded as a client keeps it. */
class Seen {
  kinds = [];
  states = [];
  artifacts = {};
  task = null;

  /** Reads events until the stream ends or, with `untilWorking`, the task works. */
  async read(events, untilWorking = false) {
    for (;;) {
      const { value: event, done } = await events.next();
      if (done) return;
      this.kinds.push(event.kind);
      if (event.kind === "task") {
        this.task = event.id;
        this.states.push(event.status.state);
        Object.assign(this.artifacts, artifactsOf(event));
      }
      if (event.kind === "status-update") {
        this.task ??= event.taskId;
        this.states.push(event.status.state);
      }
      if (event.kind === "artifact-update") {
        const name = event.artifact.name;
        const chunk = partsText(event.artifact.parts);
        this.artifacts[name] = event.append ? (this.artifacts[name] ?? "") + chunk : chunk;
      }
      if (untilWorking && this.states.at(-1) === "working") return;
    }
  }

  report() {
    return { task: this.task, kinds: this.kinds, states: this.states, artifacts: this.artifacts };
  }
}

const message = {
  kind: "message",
  messageId: randomUUID(),
  role: "user",
  parts: [{ kind: "text", text }],
  ...(agent ? { metadata: { agent } } : {}),
};
const leave = new AbortController();
const events = client.sendMessageStream({ message }, { signal: leave.signal });
const sent = new Seen();
let seen;
if (mode === "cancel") {
  await sent.read(events, true);
  const answer = await client.cancelTask({ id: sent.task });
  await sent.read(events); // the same stream, to its end
  seen = { ...sent.report(), answered: answer.status.state };
} else if (mode === "resubscribe") {
  await sent.read(events, true);
  leave.abort(); // the connection closes; the task goes on
  await events.return();
  const again = new Seen();
  await again.read(client.resubscribeTask({ id: sent.task }));
  seen = { ...again.report(), left_at: sent.states };
} else {
  await sent.read(events);
  seen = sent.report();
}
const fetched = await client.getTask({ id: seen.task });
const chosen = { url: card.url, transport: card.preferredTransport, version: card.protocolVersion };
console.log(
  JSON.stringify({
    ...seen,
    card: chosen,
    fetched: { state: fetched.status.state, artifacts: artifactsOf(fetched) },
  }),
);
