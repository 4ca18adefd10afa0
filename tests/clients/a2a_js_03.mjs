// Run by node with @a2a-js/sdk 0.3 installed beside it: discover an agent, stream a message,
// get the task. Prints one JSON object: what the old client saw. The test judges it.
import { ClientFactory } from "@a2a-js/sdk/client";
import { randomUUID } from "node:crypto";

const [url, text, agent] = process.argv.slice(2);
const client = await new ClientFactory().createFromUrl(url);
const message = {
  kind: "message",
  messageId: randomUUID(),
  role: "user",
  parts: [{ kind: "text", text }],
  metadata: { agent },
};
const kinds = [];
const artifacts = {};
let taskId = null;
let state = null;
for await (const event of client.sendMessageStream({ message })) {
  kinds.push(event.kind);
  if (event.kind === "task") taskId = event.id;
  if (event.kind === "status-update") state = event.status.state;
  if (event.kind === "artifact-update") {
    const name = event.artifact.name;
    const chunk = event.artifact.parts.map((p) => p.text ?? "").join("");
    artifacts[name] = event.append ? (artifacts[name] ?? "") + chunk : chunk;
  }
}
const fetched = taskId ? await client.getTask({ id: taskId }) : null;
console.log(JSON.stringify({ kinds, state, artifacts, fetched: fetched?.status?.state ?? null }));
