// The page's A2A client: the official SDK's v1.0 JSON-RPC transport, aimed at the server that
// served the page, with the caller's identity on every request.
import { type AgentCard, Role, type StreamResponse, type Task, TaskState } from "@a2a-js/sdk";
import {
  type Client,
  ClientFactory,
  ClientFactoryOptions,
  DefaultAgentCardResolver,
  JsonRpcTransportFactory,
} from "@a2a-js/sdk/client";
import { type Caller, fetchAs } from "./http";

export type { Caller } from "./http";
export { getJson, rate } from "./http";

/** A message to send: text and/or one data part, within an existing task or context. */
export interface Outgoing {
  text?: string;
  data?: Record<string, unknown>;
  taskId?: string;
  contextId?: string;
  referenceTaskIds?: string[];
}

/** The card as served, its interfaces moved to this page's origin: behind a proxy the card
 * names the server's own address, which the browser may not reach (or may reach cross-origin). */
function sameOrigin(card: AgentCard): AgentCard {
  const here = window.location.origin;
  const supportedInterfaces = card.supportedInterfaces.map((entry) => {
    const url = new URL(entry.url);
    return { ...entry, url: `${here}${url.pathname}${url.search}` };
  });
  return { ...card, supportedInterfaces };
}

export interface Connection {
  card: AgentCard;
  client: Client;
  /** Whether the server asks for a bearer token. */
  needsToken: boolean;
  hasToken: boolean;
}

export async function connect(caller: Caller): Promise<Connection> {
  const fetchImpl = fetchAs(caller);
  const card = sameOrigin(await new DefaultAgentCardResolver({ fetchImpl }).resolve(window.location.origin));
  const factory = new ClientFactory(
    ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
      transports: [new JsonRpcTransportFactory({ fetchImpl })],
      preferredTransports: ["JSONRPC"],
    }),
  );
  const client = await factory.createFromAgentCard(card);
  const needsToken = Object.keys(card.securitySchemes ?? {}).length > 0;
  return { card, client, needsToken, hasToken: Boolean(caller.token) };
}

export function stream(connection: Connection, outgoing: Outgoing): AsyncGenerator<StreamResponse> {
  const parts = [];
  if (outgoing.text) parts.push(textPart(outgoing.text));
  if (outgoing.data) parts.push(dataPart(outgoing.data));
  return connection.client.sendMessageStream({
    tenant: "",
    message: {
      messageId: crypto.randomUUID(),
      role: Role.ROLE_USER,
      parts,
      taskId: outgoing.taskId ?? "",
      contextId: outgoing.contextId ?? "",
      referenceTaskIds: outgoing.referenceTaskIds ?? [],
      metadata: undefined,
      extensions: [],
    },
    configuration: undefined,
    metadata: undefined,
  });
}

function textPart(value: string) {
  return { content: { $case: "text" as const, value }, metadata: undefined, filename: "", mediaType: "" };
}

function dataPart(value: Record<string, unknown>) {
  return { content: { $case: "data" as const, value }, metadata: undefined, filename: "", mediaType: "" };
}

/** The caller's tasks, newest first (ListTasks), without their artifacts. */
export async function recentTasks(connection: Connection, pageSize = 20): Promise<Task[]> {
  const page = await connection.client.listTasks({
    tenant: "",
    contextId: "",
    status: TaskState.TASK_STATE_UNSPECIFIED,
    pageSize,
    pageToken: "",
    historyLength: 200, // enough to reach the request that opened each task
    statusTimestampAfter: undefined,
    includeArtifacts: false,
  });
  return page.tasks;
}

export function getTask(connection: Connection, id: string): Promise<Task> {
  return connection.client.getTask({ tenant: "", id, historyLength: 50 });
}

export function stateName(state: TaskState | undefined): string {
  return TaskState[state ?? TaskState.TASK_STATE_UNSPECIFIED] ?? "TASK_STATE_UNSPECIFIED";
}
