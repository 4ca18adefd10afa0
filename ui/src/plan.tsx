// The progressive protocol's controls: the steps as a progress list, plan approval, step
// changes (preview, only, cascade) and a step's versions side by side.
import { useState } from "preact/hooks";
import type { Outgoing } from "./a2a";

export type StepStatus = "pending" | "running" | "done" | "failed" | "skipped" | "canceled";

export interface LedgerVersion {
  number: number;
  artifacts: Record<string, string>;
  changes: Record<string, unknown>;
}

export interface LedgerStep {
  id: string;
  kind: string;
  agent: string;
  tier: string;
  component: string | null;
  status: StepStatus;
  error: string | null;
  versions: LedgerVersion[];
}

/** ``steps.json``: the plan's ledger, as the orchestrator keeps it. */
export interface Ledger {
  query: string;
  components: string[];
  selected: string[];
  phase: string;
  steps: Record<string, LedgerStep>;
}

export type Send = (outgoing: Outgoing) => void;

/** Whether a step is part of what was approved (a component left out is not built). */
function chosen(ledger: Ledger, step: LedgerStep): boolean {
  const waiting = ledger.phase === "awaiting-approval";
  return waiting || step.kind !== "implementation" || ledger.selected.includes(step.component ?? "");
}

export function StepsProgress({ ledger }: { ledger: Ledger }) {
  const steps = Object.values(ledger.steps);
  const active = steps.filter((s) => chosen(ledger, s));
  const done = active.filter((s) => s.status === "done").length;
  const left = steps.length - active.length;
  return (
    <section class="steps" aria-label="Plan steps">
      <h3>
        Steps · {done}/{active.length} done{left ? ` · ${left} not selected` : ""} · {ledger.phase}
      </h3>
      <progress max={active.length} value={done} />
      <ol>
        {steps.map((step) => (
          <li
            class={`step ${chosen(ledger, step) ? step.status : "left-out"}`}
            data-step-id={step.id}
            data-status={chosen(ledger, step) ? step.status : "not-selected"}
          >
            <span class="marker" aria-hidden="true" />
            <span class="name">{step.id}</span> <span class="quiet">{step.agent}</span>
            {step.versions.length > 1 ? <span class="badge">v{step.versions.length}</span> : null}
            {step.error ? <span class="error"> {step.error}</span> : null}
          </li>
        ))}
      </ol>
    </section>
  );
}

export function Approval({ components, send }: { components: string[]; send: Send }) {
  const [picked, setPicked] = useState<Set<string>>(new Set(components));
  const [change, setChange] = useState("");
  const toggle = (name: string) => {
    const next = new Set(picked);
    if (next.has(name)) next.delete(name);
    else next.add(name);
    setPicked(next);
  };
  const selected = components.filter((c) => picked.has(c));
  return (
    <section id="approval" class="controls" aria-label="Approve the plan">
      <h3>Approve the plan</h3>
      <fieldset>
        <legend>Components to build</legend>
        {components.map((name) => (
          <label class="check">
            <input type="checkbox" name="component" value={name} checked={picked.has(name)} onChange={() => toggle(name)} />
            {name}
          </label>
        ))}
      </fieldset>
      <div class="row">
        <button id="approve-all" type="button" onClick={() => send({ data: { approve: true } })}>
          Approve all
        </button>
        <button
          id="approve-selected"
          type="button"
          disabled={selected.length === 0}
          onClick={() => send({ data: { approve: { components: selected } } })}
        >
          Build {selected.length} selected
        </button>
      </div>
      <div class="row">
        <input id="plan-change" placeholder="Or ask for a change to the plan…" value={change} onInput={(e) => setChange(e.currentTarget.value)} />
        <button id="ask-change" type="button" disabled={!change.trim()} onClick={() => send({ text: change.trim() })}>
          Ask
        </button>
      </div>
    </section>
  );
}

const MODES = ["preview", "only", "cascade"] as const;

function changesOf(instructions: string, stack: string): Record<string, unknown> {
  const changes: Record<string, unknown> = {};
  if (instructions.trim()) changes.instructions = instructions.trim();
  const techStack = stack
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (techStack.length) changes.techStack = techStack;
  return changes;
}

export function StepChange({ ledger, send }: { ledger: Ledger; send: (modifyStep: Record<string, unknown>) => void }) {
  const editable = Object.values(ledger.steps).filter((s) => s.agent !== "orchestrator");
  const [step, setStep] = useState(editable[0]?.id ?? "");
  const [mode, setMode] = useState<(typeof MODES)[number]>("preview");
  const [instructions, setInstructions] = useState("");
  const [stack, setStack] = useState("");
  const chosen = ledger.steps[step];
  return (
    <section id="step-change" class="controls" aria-label="Change a step">
      <h3>Change a step</h3>
      <div class="row">
        <select id="step-select" value={step} onChange={(e) => setStep(e.currentTarget.value)}>
          {editable.map((s) => (
            <option value={s.id}>{s.id}</option>
          ))}
        </select>
        {MODES.map((m) => (
          <label class="check">
            <input type="radio" name="mode" value={m} checked={mode === m} onChange={() => setMode(m)} />
            {m}
          </label>
        ))}
      </div>
      <input id="step-instructions" placeholder="Instructions, e.g. Use gRPC between services." value={instructions} onInput={(e) => setInstructions(e.currentTarget.value)} />
      <input id="step-stack" placeholder="Tech stack, comma-separated, e.g. Go, PostgreSQL" value={stack} onInput={(e) => setStack(e.currentTarget.value)} />
      <button id="step-send" type="button" disabled={!step} onClick={() => send({ step, mode, changes: changesOf(instructions, stack) })}>
        {mode === "preview" ? "Preview the impact" : mode === "only" ? "Regenerate this step" : "Regenerate it and what follows"}
      </button>
      {chosen && chosen.versions.length > 1 ? <Versions step={chosen} /> : null}
    </section>
  );
}

export function Versions({ step }: { step: LedgerStep }) {
  const names = [...new Set(step.versions.flatMap((v) => Object.keys(v.artifacts)))];
  return (
    <div class="versions" data-step-id={step.id}>
      <h4>
        {step.id}: {step.versions.length} versions
      </h4>
      {names.map((name) => (
        <div class="side-by-side">
          {step.versions.map((version) => (
            <figure data-version={version.number}>
              <figcaption>
                {name} · v{version.number}
                {Object.keys(version.changes).length ? ` · ${JSON.stringify(version.changes)}` : ""}
              </figcaption>
              <pre>{version.artifacts[name] ?? "(not produced)"}</pre>
            </figure>
          ))}
        </div>
      ))}
    </div>
  );
}
