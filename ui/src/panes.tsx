// One pane per artifact, keyed by artifactId: chunks append, a re-sent artifact replaces itself.
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import go from "highlight.js/lib/languages/go";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import markdown from "highlight.js/lib/languages/markdown";
import python from "highlight.js/lib/languages/python";
import sql from "highlight.js/lib/languages/sql";
import typescript from "highlight.js/lib/languages/typescript";
import yaml from "highlight.js/lib/languages/yaml";
import { useEffect, useRef } from "preact/hooks";
import type { ArtifactView } from "./events";

const LANGUAGES = { bash, go, javascript, json, markdown, python, sql, typescript, yaml };
for (const [name, language] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, language);

const BY_EXTENSION: Record<string, string> = {
  sql: "sql",
  py: "python",
  json: "json",
  md: "markdown",
  ts: "typescript",
  tsx: "typescript",
  js: "javascript",
  go: "go",
  yaml: "yaml",
  yml: "yaml",
  sh: "bash",
};

export function languageOf(name: string, mediaType: string): string {
  const extension = name.split(".").pop()?.toLowerCase() ?? "";
  if (BY_EXTENSION[extension]) return BY_EXTENSION[extension];
  if (mediaType.includes("json")) return "json";
  if (mediaType.includes("markdown")) return "markdown";
  if (mediaType.includes("sql")) return "sql";
  if (mediaType.includes("python")) return "python";
  return "plaintext";
}

function highlighted(text: string, language: string): string {
  if (language === "plaintext") return escapeHtml(text);
  return hljs.highlight(text, { language, ignoreIllegals: true }).value;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

interface Badge {
  label: string;
  title?: string;
}

function badges(artifact: ArtifactView): Badge[] {
  const meta = artifact.metadata;
  const found: Badge[] = [];
  if (typeof meta.agent === "string") found.push({ label: meta.agent, title: "agent" });
  if (typeof meta.step === "string") found.push({ label: meta.step, title: "step" });
  if (typeof meta.model === "string") found.push({ label: meta.model, title: "model" });
  if (meta.cached === true) found.push({ label: "cached", title: "served from the cache" });
  if (meta.skeleton === true) found.push({ label: "skeleton", title: "a skeleton, not a full answer" });
  if (artifact.version > 1) found.push({ label: `v${artifact.version}`, title: "re-sent by a regenerated step" });
  if (!artifact.complete) found.push({ label: "streaming…" });
  return found;
}

export function ArtifactPane({ artifact, line }: { artifact: ArtifactView; line?: number }) {
  const language = languageOf(artifact.name, artifact.mediaType);
  const lines = artifact.text.split("\n").length;
  const pane = useRef<HTMLElement>(null);
  useEffect(() => {
    if (line !== undefined) pane.current?.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }, [line]);
  return (
    <section
      ref={pane}
      class={`pane${line !== undefined ? " focused" : ""}`}
      data-artifact-id={artifact.id}
      data-artifact-name={artifact.name}
      data-complete={String(artifact.complete)}
    >
      <header>
        <h3>{artifact.name}</h3>
        <span class="badges">
          {badges(artifact).map((b) => (
            <span class="badge" title={b.title}>
              {b.label}
            </span>
          ))}
        </span>
      </header>
      <div class="code">
        <pre class="gutter" aria-hidden="true">
          {Array.from({ length: lines }, (_, i) => `${i + 1}\n`).join("")}
        </pre>
        <pre class={`hljs language-${language}`}>
          {line !== undefined ? <div class="line-mark" style={{ top: `calc(${line - 1} * var(--line))` }} /> : null}
          <code dangerouslySetInnerHTML={{ __html: highlighted(artifact.text, language) }} />
        </pre>
      </div>
    </section>
  );
}

export interface Finding {
  file: string;
  line: number | null;
  column: number | null;
  severity: "error" | "warning" | "info";
  rule: string;
  message: string;
}

export interface ValidationReport {
  passed: boolean;
  score: number | null;
  checked: number;
  issues: Finding[];
}

export function Findings({ report, onPick }: { report: ValidationReport; onPick: (file: string, line: number) => void }) {
  const verdict = report.passed ? "passed" : "did not pass";
  return (
    <section class="findings" data-passed={String(report.passed)}>
      <h3>
        Validation {verdict}
        {report.score !== null ? ` · score ${report.score}/100` : ""} · {report.checked} file(s)
      </h3>
      {report.issues.length === 0 ? <p class="quiet">No findings.</p> : null}
      <ul>
        {report.issues.map((issue) => (
          <li class={`finding ${issue.severity}`} data-rule={issue.rule} data-file={issue.file}>
            <button type="button" class="link" onClick={() => onPick(issue.file, issue.line ?? 1)}>
              {issue.file}
              {issue.line ? `:${issue.line}` : ""}
            </button>{" "}
            <span class="severity">{issue.severity}</span> <code>{issue.rule}</code> {issue.message}
          </li>
        ))}
      </ul>
    </section>
  );
}
