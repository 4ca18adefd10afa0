// The canvas: a prompt, the caller's conversations, and the current task drawn as it streams.
import "highlight.js/styles/github.css";
import "./style.css";
import { Role, type Task } from "@a2a-js/sdk";
import { render } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { type Caller, type Connection, type Outgoing, connect, getTask, rate, recentTasks, stateName, stream } from "./a2a";
import { Diagram, type CanvasDocument } from "./diagram";
import {
  type ArtifactView,
  FINAL_STATES,
  type TaskView,
  artifactNamed,
  emptyView,
  fold,
  fromTask,
  lastMeta,
  parseJson,
} from "./events";
import { type Cost, CostBadges, StatusLog } from "./log";
import { ArtifactPane, Findings, type ValidationReport } from "./panes";
import { Approval, type Ledger, StepChange, StepsProgress } from "./plan";

const SHOWN_ELSEWHERE = new Set(["steps.json", "validation.json", "architecture.canvas.json"]);
const CALLER_KEY = "youmeyou.caller";

function savedCaller(): Caller {
  try {
    const saved = JSON.parse(localStorage.getItem(CALLER_KEY) ?? "{}") as Partial<Caller>;
    return { user: saved.user ?? "canvas", token: saved.token ?? "" };
  } catch {
    return { user: "canvas", token: "" };
  }
}

interface Focus {
  file: string;
  line: number;
}

function App() {
  const [caller, setCaller] = useState<Caller>(savedCaller);
  const [connection, setConnection] = useState<Connection | null>(null);
  const [view, setView] = useState<TaskView>(emptyView);
  const [tasks, setTasks] = useState<Task[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const [focus, setFocus] = useState<Focus | null>(null);

  const refresh = useCallback(async (live: Connection) => {
    if (live.needsToken && !live.hasToken) return; // nothing to list before a token is given
    try {
      setTasks(await recentTasks(live));
    } catch (failed) {
      setError(`Could not list your tasks: ${String(failed)}`);
    }
  }, []);

  useEffect(() => {
    localStorage.setItem(CALLER_KEY, JSON.stringify(caller));
    connect(caller)
      .then((live) => {
        setConnection(live);
        setError("");
        return refresh(live);
      })
      .catch((failed) => setError(`Could not reach the orchestrator: ${String(failed)}`));
  }, [caller, refresh]);

  const run = useCallback(
    async (outgoing: Outgoing, fresh = false) => {
      if (!connection) return;
      setBusy(true);
      setError("");
      setFocus(null);
      if (fresh) setView(emptyView());
      try {
        for await (const event of stream(connection, outgoing)) setView((before) => fold(before, event));
      } catch (failed) {
        setError(String(failed));
      } finally {
        setBusy(false);
        void refresh(connection);
      }
    },
    [connection, refresh],
  );

  const open = useCallback(
    async (id: string) => {
      if (!connection) return;
      try {
        setFocus(null);
        setView(fromTask(await getTask(connection, id)));
      } catch (failed) {
        setError(String(failed));
      }
    },
    [connection],
  );

  return (
    <div class="layout">
      <aside>
        <h1>youmeyou</h1>
        <Identity caller={caller} needsToken={connection?.needsToken ?? false} onChange={setCaller} />
        <Prompt busy={busy || !connection} onSend={(text) => run({ text }, true)} />
        <Conversations tasks={tasks} current={view.taskId} onOpen={open} />
      </aside>
      <main>
        {error ? (
          <p id="error" role="alert">
            {error}
          </p>
        ) : null}
        <TaskPanel view={view} busy={busy} run={run} caller={caller} focus={focus} onFocus={setFocus} />
      </main>
    </div>
  );
}

function Identity({ caller, needsToken, onChange }: { caller: Caller; needsToken: boolean; onChange: (c: Caller) => void }) {
  const [draft, setDraft] = useState(caller);
  const apply = () => onChange({ user: draft.user.trim(), token: draft.token.trim() });
  return (
    <form class="identity" onSubmit={(e) => (e.preventDefault(), apply())}>
      {needsToken || caller.token ? (
        <input id="token" type="password" placeholder="Bearer token (JWT)" value={draft.token} onInput={(e) => setDraft({ ...draft, token: e.currentTarget.value })} onBlur={apply} />
      ) : (
        <input id="user" placeholder="Your name" value={draft.user} onInput={(e) => setDraft({ ...draft, user: e.currentTarget.value })} onBlur={apply} />
      )}
    </form>
  );
}

function Prompt({ busy, onSend }: { busy: boolean; onSend: (text: string) => void }) {
  const [text, setText] = useState("");
  const send = () => {
    if (text.trim() && !busy) onSend(text.trim());
  };
  return (
    <form class="prompt" onSubmit={(e) => (e.preventDefault(), send())}>
      <textarea
        id="prompt"
        rows={5}
        placeholder="Describe what to build: a system, a schema, some code, or paste code to review."
        value={text}
        onInput={(e) => setText(e.currentTarget.value)}
        onKeyDown={(e) => (e.key === "Enter" && (e.metaKey || e.ctrlKey) ? send() : undefined)}
      />
      <button id="send" type="submit" disabled={busy || !text.trim()}>
        {busy ? "Working…" : "Send"}
      </button>
    </form>
  );
}

function firstUserText(task: Task): string {
  for (const message of task.history) {
    if (message.role !== Role.ROLE_USER) continue;
    const part = message.parts.find((p) => p.content?.$case === "text");
    if (part?.content?.$case === "text") return part.content.value;
  }
  return task.id.slice(0, 8);
}

function Conversations({ tasks, current, onOpen }: { tasks: Task[]; current: string; onOpen: (id: string) => void }) {
  return (
    <nav id="conversations" aria-label="Your tasks">
      <h2>Your tasks</h2>
      {tasks.length === 0 ? <p class="quiet">None yet.</p> : null}
      <ul>
        {tasks.map((task) => (
          <li class={task.id === current ? "current" : ""} data-task-id={task.id}>
            <button type="button" class="link" onClick={() => onOpen(task.id)}>
              {firstUserText(task).slice(0, 80)}
            </button>
            <span class="quiet"> {stateName(task.status?.state).replace("TASK_STATE_", "").toLowerCase()}</span>
          </li>
        ))}
      </ul>
    </nav>
  );
}

interface PanelProps {
  view: TaskView;
  busy: boolean;
  run: (outgoing: Outgoing) => Promise<void>;
  caller: Caller;
  focus: Focus | null;
  onFocus: (focus: Focus) => void;
}

function TaskPanel({ view, busy, run, caller, focus, onFocus }: PanelProps) {
  const ledgerArtifact = artifactNamed(view, "steps.json");
  const ledger = parseJson<Ledger>(ledgerArtifact);
  const plan = lastMeta<{ components: string[] }>(view, "plan");
  const waiting = view.state === "TASK_STATE_INPUT_REQUIRED" && lastMeta<string>(view, "question") === "approve-plan";
  const final = FINAL_STATES.has(view.state);
  const previewed = final && lastMeta<{ mode?: string }>(view, "modification")?.mode === "preview";
  const inTask = { taskId: view.taskId, contextId: view.contextId };
  const modify = (modifyStep: Record<string, unknown>) =>
    run(waiting ? { ...inTask, data: { modifyStep } } : { contextId: view.contextId, referenceTaskIds: [view.taskId], data: { modifyStep } });
  return (
    <article id="task" data-task-state={view.state} data-task-id={view.taskId} aria-busy={busy}>
      <div class="stream">
        {view.taskId ? null : <p class="quiet">Send a request to watch it being built.</p>}
        <CostBadges cost={lastMeta<Cost>(view, "cost")} cached={lastMeta<boolean>(view, "cached") === true} />
        <StatusLog lines={view.lines} />
        {ledger && ledgerArtifact ? (
          <div data-artifact-id={ledgerArtifact.id} data-artifact-name={ledgerArtifact.name}>
            <StepsProgress ledger={ledger} />
          </div>
        ) : null}
        {waiting && plan && !busy ? <Approval key={view.taskId} components={plan.components} send={(o) => run({ ...o, ...inTask })} /> : null}
        {ledger && (final || waiting) && !busy ? <StepChange ledger={ledger} send={modify} /> : null}
        {final && view.taskId && !previewed ? <Rating key={view.taskId} taskId={view.taskId} caller={caller} /> : null}
      </div>
      <div class="canvas">
        <DiagramPane artifact={artifactNamed(view, "architecture.canvas.json")} />
        <FindingsPane
          artifact={artifactNamed(view, "validation.json")}
          earlier={earlierRounds(ledger)}
          onPick={(file, line) => onFocus({ file, line })}
        />
        <div class="panes">
          {[...view.artifacts.values()]
            .filter((a) => !SHOWN_ELSEWHERE.has(a.name))
            .map((a) => (
              <ArtifactPane key={a.id} artifact={a} line={focus?.file === a.name ? focus.line : undefined} />
            ))}
        </div>
      </div>
    </article>
  );
}

function DiagramPane({ artifact }: { artifact: ArtifactView | undefined }) {
  const doc = parseJson<CanvasDocument>(artifact);
  if (!artifact) return null;
  return (
    <section class="pane diagram-pane" data-artifact-id={artifact.id} data-artifact-name={artifact.name}>
      <header>
        <h3>System diagram</h3>
        {artifact.version > 1 ? <span class="badge">v{artifact.version}</span> : null}
      </header>
      <div class="scroll">{doc?.nodes ? <Diagram doc={doc} /> : <p class="quiet">Drawing…</p>}</div>
    </section>
  );
}

/** The validation reports of the rounds before the last: what a repair fixed. */
function earlierRounds(ledger: Ledger | undefined): ValidationReport[] {
  const versions = ledger?.steps.validation?.versions ?? [];
  return versions.slice(0, -1).flatMap((version) => {
    try {
      return [JSON.parse(version.artifacts["validation.json"] ?? "") as ValidationReport];
    } catch {
      return [];
    }
  });
}

interface FindingsPaneProps {
  artifact: ArtifactView | undefined;
  earlier: ValidationReport[];
  onPick: (file: string, line: number) => void;
}

function FindingsPane({ artifact, earlier, onPick }: FindingsPaneProps) {
  const report = parseJson<ValidationReport>(artifact);
  if (!artifact || !report) return null;
  return (
    <div data-artifact-id={artifact.id} data-artifact-name={artifact.name}>
      <Findings report={report} onPick={onPick} />
      {earlier.map((round, i) => (
        <details class="earlier" data-round={i + 1}>
          <summary>
            Round {i + 1}: {round.issues.length} finding(s), repaired
          </summary>
          <Findings report={round} onPick={onPick} />
        </details>
      ))}
    </div>
  );
}

function Rating({ taskId, caller }: { taskId: string; caller: Caller }) {
  const [said, setSaid] = useState("");
  const give = async (rating: number) => {
    try {
      const agent = await rate(caller, taskId, rating);
      setSaid(`Rated ${rating}/5${agent ? ` for the ${agent} agent` : ""}. Thank you.`);
    } catch (failed) {
      setSaid(`Could not rate: ${String(failed)}`);
    }
  };
  return (
    <section id="rating" class="controls" aria-label="Rate this answer">
      <h3>How useful was this?</h3>
      <div class="row">
        {[1, 2, 3, 4, 5].map((n) => (
          <button type="button" class="star" data-rating={n} onClick={() => give(n)}>
            {n}★
          </button>
        ))}
      </div>
      {said ? <p id="rated">{said}</p> : null}
    </section>
  );
}

const root = document.getElementById("app");
if (root) render(<App />, root);
