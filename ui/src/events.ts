// The stream folded into what the page draws: one pure function per event kind, so a task
// fetched later (GetTask) and a task watched live end up as the same view.
import type { Artifact, Part, StreamResponse, Task, TaskStatus } from "@a2a-js/sdk";
import { stateName } from "./a2a";

export type Metadata = Record<string, unknown>;

export interface StatusLine {
  state: string;
  text: string;
  metadata: Metadata;
}

export interface ArtifactView {
  id: string;
  name: string;
  mediaType: string;
  text: string;
  metadata: Metadata;
  /** How many times it was sent whole (a regenerated step re-sends with the same id). */
  version: number;
  complete: boolean;
}

export interface TaskView {
  taskId: string;
  contextId: string;
  state: string;
  lines: StatusLine[];
  /** By artifactId, in the order they first arrived. */
  artifacts: Map<string, ArtifactView>;
}

export function emptyView(): TaskView {
  return { taskId: "", contextId: "", state: "", lines: [], artifacts: new Map() };
}

function partText(part: Part): string {
  const content = part.content;
  if (!content) return "";
  if (content.$case === "text") return content.value;
  if (content.$case === "data") return JSON.stringify(content.value, null, 2);
  if (content.$case === "url") return content.value;
  return "";
}

function partsText(parts: Part[]): string {
  return parts.map(partText).join("");
}

function mediaTypeOf(artifact: Artifact): string {
  return artifact.parts.find((p) => p.mediaType)?.mediaType ?? "";
}

function withStatus(view: TaskView, status: TaskStatus | undefined, metadata: Metadata): TaskView {
  const state = stateName(status?.state);
  const text = status?.message ? partsText(status.message.parts) : "";
  const lines = text || Object.keys(metadata).length ? [...view.lines, { state, text, metadata }] : view.lines;
  return { ...view, state, lines };
}

function withArtifact(view: TaskView, artifact: Artifact, append: boolean, lastChunk: boolean): TaskView {
  const artifacts = new Map(view.artifacts);
  const before = artifacts.get(artifact.artifactId);
  const chunk = partsText(artifact.parts);
  const metadata = { ...(artifact.metadata ?? {}) };
  const next: ArtifactView =
    append && before
      ? { ...before, text: before.text + chunk, complete: lastChunk, metadata: { ...before.metadata, ...metadata } }
      : {
          id: artifact.artifactId,
          name: artifact.name,
          mediaType: mediaTypeOf(artifact) || before?.mediaType || "",
          text: chunk,
          metadata,
          version: (before?.version ?? 0) + 1,
          complete: lastChunk,
        };
  artifacts.set(artifact.artifactId, next);
  return { ...view, artifacts };
}

export function fold(view: TaskView, event: StreamResponse): TaskView {
  const payload = event.payload;
  if (!payload) return view;
  switch (payload.$case) {
    case "task":
      return fromTask(payload.value, view);
    case "statusUpdate": {
      const update = payload.value;
      const ids = { taskId: update.taskId || view.taskId, contextId: update.contextId || view.contextId };
      return withStatus({ ...view, ...ids }, update.status, update.metadata ?? {});
    }
    case "artifactUpdate": {
      const update = payload.value;
      if (!update.artifact) return view;
      return withArtifact(view, update.artifact, update.append, update.lastChunk);
    }
    case "message":
      return { ...view, lines: [...view.lines, { state: view.state, text: partsText(payload.value.parts), metadata: {} }] };
  }
}

/** A task as the server keeps it; artifacts already seen keep their version count. */
export function fromTask(task: Task, before: TaskView = emptyView()): TaskView {
  let view: TaskView = { ...before, taskId: task.id, contextId: task.contextId };
  for (const artifact of task.artifacts) {
    const seen = view.artifacts.get(artifact.artifactId);
    if (seen?.complete && seen.text === partsText(artifact.parts)) continue;
    view = withArtifact(view, artifact, false, true);
  }
  const known = before.lines.length > 0 || task.status?.message === undefined;
  return known ? { ...view, state: stateName(task.status?.state) } : withStatus(view, task.status, {});
}

export const FINAL_STATES = new Set([
  "TASK_STATE_COMPLETED",
  "TASK_STATE_FAILED",
  "TASK_STATE_CANCELED",
  "TASK_STATE_REJECTED",
]);

/** The last status line carrying ``key`` in its metadata. */
export function lastMeta<T>(view: TaskView, key: string): T | undefined {
  for (let i = view.lines.length - 1; i >= 0; i--) {
    const value = view.lines[i]?.metadata[key];
    if (value !== undefined) return value as T;
  }
  return undefined;
}

/** The artifact of that name; the latest, should two tasks of a conversation both send one. */
export function artifactNamed(view: TaskView, name: string): ArtifactView | undefined {
  let found: ArtifactView | undefined;
  for (const artifact of view.artifacts.values()) if (artifact.name === name) found = artifact;
  return found;
}

export function parseJson<T>(artifact: ArtifactView | undefined): T | undefined {
  if (!artifact?.complete) return undefined;
  try {
    return JSON.parse(artifact.text) as T;
  } catch {
    return undefined;
  }
}
