// Run by node with @a2a-js/sdk 1.x installed beside it, through its v1.0 client (ClientFactory
// and the JSON-RPC transport, as the canvas in ui/src/a2a.ts uses it): discover an agent from
// its card, then one of
//   stream       stream a message to its end, then get the task;
//   cancel       stream a message, cancel the task once it works, read the stream to its
//                end, then get the task;
//   resubscribe  stream a message, leave the stream once the task works, resubscribe to
//                the task and read that to its end, then get the task.
// Usage: node client.mjs MODE URL TEXT [AGENT]. Prints one JSON object: what the client saw
// (states as the SDK names them). The test judges it.
import { Role, TaskState } from "@a2a-js/sdk";
import {
  ClientFactory,
  ClientFactoryOptions,
  DefaultAgentCardResolver,
  JsonRpcTransportFactory,
} from "@a2a-js/sdk/client";
import { randomUUID } from "node:crypto";

const [mode, url, text, agent] = process.argv.slice(2);
const card = await new DefaultAgentCardResolver().resolve(url.endsWith("/") ? url : `${url}/`);
const factory = new ClientFactory(
  ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
    transports: [new JsonRpcTransportFactory()],
    preferredTransports: ["JSONRPC"],
  }),
);
const client = await factory.createFromAgentCard(card);

const stateName = (state) => TaskState[state ?? TaskState.TASK_STATE_UNSPECIFIED];

function partsText(parts) {
  return parts.map((p) => (p.content?.$case === "text" ? p.content.value : "")).join("");
}

function artifactsOf(task) {
  return Object.fromEntries(task.artifacts.map((a) => [a.name, partsText(a.parts)]));
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
      const { $case: kind, value } = event.payload;
      this.kinds.push(kind);
      if (kind === "task") {
        this.task = value.id;
        this.states.push(stateName(value.status?.state));
        Object.assign(this.artifacts, artifactsOf(value));
      }
      if (kind === "statusUpdate") {
        this.task ??= value.taskId;
        this.states.push(stateName(value.status?.state));
      }
      if (kind === "artifactUpdate") {
        const name = value.artifact.name;
        const chunk = partsText(value.artifact.parts);
        this.artifacts[name] = value.append ? (this.artifacts[name] ?? "") + chunk : chunk;
      }
      if (untilWorking && this.states.at(-1) === "TASK_STATE_WORKING") return;
    }
  }

  report() {
    return { task: this.task, kinds: this.kinds, states: this.states, artifacts: this.artifacts };
  }
}

const message = {
  messageId: randomUUID(),
  role: Role.ROLE_USER,
  parts: [{ content: { $case: "text", value: text }, metadata: undefined, filename: "", mediaType: "" }],
  taskId: "",
  contextId: "",
  referenceTaskIds: [],
  metadata: agent ? { agent } : undefined,
  extensions: [],
};
const leave = new AbortController();
const request = { tenant: "", message, configuration: undefined, metadata: undefined };
const events = client.sendMessageStream(request, { signal: leave.signal });
const sent = new Seen();
let seen;
if (mode === "cancel") {
  await sent.read(events, true);
  const answer = await client.cancelTask({ tenant: "", id: sent.task, metadata: undefined });
  await sent.read(events); // the same stream, to its end
  seen = { ...sent.report(), answered: stateName(answer.status?.state) };
} else if (mode === "resubscribe") {
  await sent.read(events, true);
  leave.abort(); // the connection closes; the task goes on
  await events.return();
  const again = new Seen();
  await again.read(client.resubscribeTask({ tenant: "", id: sent.task }));
  seen = { ...again.report(), left_at: sent.states };
} else {
  await sent.read(events);
  seen = sent.report();
}
const fetched = await client.getTask({ tenant: "", id: seen.task });
const transport = client.transport.protocolName;
const chosen = card.supportedInterfaces.find(
  (i) => i.protocolBinding === transport && i.protocolVersion === client.protocolVersion,
);
console.log(
  JSON.stringify({
    ...seen,
    card: { url: chosen?.url ?? null, transport, version: client.protocolVersion },
    fetched: { state: stateName(fetched.status?.state), artifacts: artifactsOf(fetched) },
  }),
);
