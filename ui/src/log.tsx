// The status lines as they stream, the routing decision with its scores, and the cost badges.
import { useEffect, useRef } from "preact/hooks";
import type { StatusLine } from "./events";

interface Scored {
  agent: string;
  skill?: string;
  score?: number;
  breakdown?: Record<string, number>;
}

export interface Routing {
  agent: string | null;
  skill: string | null;
  scores: Record<string, number>;
  threshold?: number;
  ranking?: Scored[];
  team?: string[];
}

export interface Cost {
  usd: number;
  tokens_in: number;
  tokens_out: number;
  calls?: { model?: string; provider?: string; cached?: boolean; fallbacks?: string[] }[];
}

function short(state: string): string {
  return state.replace("TASK_STATE_", "").toLowerCase().replace("_", "-");
}

export function StatusLog({ lines }: { lines: StatusLine[] }) {
  const list = useRef<HTMLOListElement>(null);
  useEffect(() => {
    const element = list.current;
    if (element) element.scrollTop = element.scrollHeight; // follow the stream
  }, [lines.length]);
  return (
    <ol id="status-log" ref={list} class="log" aria-live="polite">
      {lines.map((line) => (
        <li class={`line ${short(line.state)}`}>
          <span class="state">{short(line.state)}</span> {line.text}
          {line.metadata.routing ? <RoutingScores routing={line.metadata.routing as Routing} /> : null}
        </li>
      ))}
    </ol>
  );
}

const SCORE_KEYS = ["semantic", "history", "preference", "project", "total"];

export function RoutingScores({ routing }: { routing: Routing }) {
  const ranking = (routing.ranking ?? []).slice(0, 4);
  return (
    <table class="routing" data-agent={routing.agent ?? ""}>
      <thead>
        <tr>
          <th>agent</th>
          {SCORE_KEYS.map((k) => (
            <th>{k}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {ranking.map((row) => (
          <tr class={row.agent === routing.agent ? "chosen" : ""}>
            <td>
              {row.agent}
              {row.skill ? <span class="quiet"> · {row.skill}</span> : null}
            </td>
            {SCORE_KEYS.map((k) => (
              <td>{(row.breakdown?.[k] ?? (k === "total" ? row.score : undefined))?.toFixed(2) ?? "–"}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function CostBadges({ cost, cached }: { cost: Cost | undefined; cached: boolean }) {
  if (!cost && !cached) return null;
  const models = [...new Set((cost?.calls ?? []).map((c) => c.model).filter(Boolean))];
  const fallbacks = (cost?.calls ?? []).filter((c) => c.fallbacks?.length).length;
  return (
    <div id="cost" class="badges">
      {cost ? (
        <span class="badge" data-usd={cost.usd} title="cost of this task">
          ${cost.usd.toFixed(4)} · {cost.tokens_in} in / {cost.tokens_out} out
        </span>
      ) : null}
      {models.map((m) => (
        <span class="badge model">{m}</span>
      ))}
      {fallbacks ? <span class="badge warn">{fallbacks} fallback(s)</span> : null}
      {cached ? <span class="badge">cached</span> : null}
    </div>
  );
}
