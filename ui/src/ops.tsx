// The operations view: cost, cache, fallbacks, breakers, tasks, the local model and routing,
// drawn from GET /v1/ops (admin only when auth is on).
import "./style.css";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { type Caller, getJson } from "./http";

interface Spend {
  usd: number;
  calls: number;
  tokensIn: number;
  tokensOut: number;
}

export interface Ops {
  generatedAt: string;
  cost: {
    month: string;
    byDay: (Spend & { day: string })[];
    byUser: (Spend & { user: string })[];
    byModel: (Spend & { model: string; tier: string })[];
  };
  cache: { hits: Record<string, number>; misses: Record<string, number>; savedUsd: number; savedTokens: number };
  fallbacks: { from: string; to: string; reason: string; count: number }[];
  breakers: { provider: string; state: string }[];
  tasks: { byState: Record<string, number> };
  localModel: { queueDepth: number; tokensPerSecond: number | null; warm: boolean };
  routing: { recent: { at: string; agent: string | null; total: number; margin: number; team: boolean }[] };
}

interface Bar {
  label: string;
  value: number;
  note?: string;
}

const BAR_HEIGHT = 22;

/** A horizontal bar chart in SVG: a handful of bars needs no charting library. */
export function BarChart({ id, title, bars, format }: { id: string; title: string; bars: Bar[]; format: (v: number) => string }) {
  const max = Math.max(...bars.map((b) => b.value), 0) || 1;
  const height = Math.max(bars.length, 1) * (BAR_HEIGHT + 6);
  return (
    <figure class="chart" id={id}>
      <figcaption>{title}</figcaption>
      {bars.length === 0 ? <p class="quiet">No data yet.</p> : null}
      <svg viewBox={`0 0 600 ${height}`} width="100%" height={height} role="img" aria-label={title}>
        {bars.map((bar, i) => (
          <g transform={`translate(0,${i * (BAR_HEIGHT + 6)})`} data-label={bar.label} data-value={bar.value}>
            <text x="0" y={BAR_HEIGHT - 7} class="label">
              {bar.label.slice(0, 24)}
            </text>
            <rect x="180" width={Math.max(2, (bar.value / max) * 300)} height={BAR_HEIGHT} rx="3" />
            <text x={188 + (bar.value / max) * 300} y={BAR_HEIGHT - 7}>
              {format(bar.value)}
              {bar.note ? ` · ${bar.note}` : ""}
            </text>
          </g>
        ))}
      </svg>
    </figure>
  );
}

interface Column {
  label: string;
  parts: number[]; // stacked from the bottom
  title: string;
}

/** Stacked columns over time (one per day), in SVG like the bars. */
export function ColumnChart({ id, title, columns, legend }: { id: string; title: string; columns: Column[]; legend: string[] }) {
  const max = Math.max(...columns.map((c) => c.parts.reduce((a, b) => a + b, 0)), 0) || 1;
  const width = 600;
  const height = 160;
  const step = width / Math.max(columns.length, 1);
  return (
    <figure class="chart" id={id}>
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${width} ${height + 18}`} width="100%" role="img" aria-label={title}>
        {columns.map((column, i) => {
          let base = height;
          return (
            <g data-label={column.label} data-value={column.parts.reduce((a, b) => a + b, 0)}>
              <title>{column.title}</title>
              {column.parts.map((part, k) => {
                const h = (part / max) * (height - 4);
                base -= h;
                return <rect class={`series-${k}`} x={i * step + 1} y={base} width={Math.max(step - 2, 1)} height={h} />;
              })}
              {i % Math.ceil(columns.length / 6) === 0 ? (
                <text x={i * step} y={height + 14} class="label">
                  {column.label.slice(5)}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
      <p class="legend">
        {legend.map((name, k) => (
          <span class={`key series-${k}`}>{name}</span>
        ))}
      </p>
    </figure>
  );
}

const usd = (v: number) => `$${v.toFixed(4)}`;
const count = (v: number) => String(Math.round(v));
const tokens = (s: Spend) => `${s.tokensIn} in / ${s.tokensOut} out`;

function Dashboard({ ops }: { ops: Ops }) {
  const hits = Object.values(ops.cache.hits).reduce((a, b) => a + b, 0);
  const misses = Object.values(ops.cache.misses).reduce((a, b) => a + b, 0);
  return (
    <div class="dashboard">
      <section class="tiles">
        <Tile label="local model" value={ops.localModel.warm ? "warm" : "warming"} />
        <Tile label="queue" value={count(ops.localModel.queueDepth)} />
        <Tile label="tokens/s" value={ops.localModel.tokensPerSecond?.toFixed(1) ?? "–"} />
        <Tile label="cache hit rate" value={hits + misses ? `${Math.round((100 * hits) / (hits + misses))}%` : "–"} />
        <Tile label="cache saved" value={`${usd(ops.cache.savedUsd)} · ${ops.cache.savedTokens} tok`} />
      </section>
      <ColumnChart
        id="cost-by-day"
        title={`Tokens per day · ${usd(ops.cost.byDay.reduce((a, d) => a + d.usd, 0))} over ${ops.cost.byDay.length} days`}
        legend={["tokens in", "tokens out"]}
        columns={ops.cost.byDay.map((d) => ({ label: d.day, parts: [d.tokensIn, d.tokensOut], title: `${d.day}: ${usd(d.usd)}, ${d.calls} calls, ${tokens(d)}` }))}
      />
      <BarChart
        id="cost-by-user"
        title={`Cost per user · ${ops.cost.month}`}
        format={usd}
        bars={ops.cost.byUser.map((u) => ({ label: u.user, value: u.usd, note: `${u.calls} calls · ${tokens(u)}` }))}
      />
      <BarChart
        id="cost-by-model"
        title="Calls per model"
        format={count}
        bars={ops.cost.byModel.map((m) => ({ label: `${m.model} (${m.tier})`, value: m.calls, note: `${usd(m.usd)} · ${tokens(m)}` }))}
      />
      <BarChart id="tasks-by-state" title="Tasks by state" format={count} bars={Object.entries(ops.tasks.byState).map(([s, n]) => ({ label: s.replace("TASK_STATE_", "").toLowerCase(), value: n }))} />
      <BarChart
        id="routing-margins"
        title="Recent routing decisions: margin over the runner-up"
        format={(v) => v.toFixed(2)}
        bars={ops.routing.recent.slice(-12).map((r) => ({ label: r.team ? `team (${r.agent ?? "?"})` : (r.agent ?? "not placed"), value: r.margin, note: `total ${r.total.toFixed(2)}` }))}
      />
      <BarChart id="fallbacks" title="Fallbacks" format={count} bars={ops.fallbacks.map((f) => ({ label: `${f.from} → ${f.to}`, value: f.count, note: f.reason }))} />
      <section id="breakers">
        <h3>Circuit breakers</h3>
        <ul>
          {ops.breakers.map((b) => (
            <li class={`breaker ${b.state}`} data-provider={b.provider} data-state={b.state}>
              {b.provider}: {b.state}
            </li>
          ))}
        </ul>
      </section>
    </div>
  );
}

function Tile({ label, value }: { label: string; value: string }) {
  return (
    <div class="tile">
      <span class="quiet">{label}</span>
      <strong>{value}</strong>
    </div>
  );
}

function OpsApp() {
  const [token, setToken] = useState(() => localStorage.getItem("youmeyou.opsToken") ?? "");
  const [ops, setOps] = useState<Ops | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    const caller: Caller = { user: "", token };
    const load = () =>
      getJson<Ops>(caller, "/v1/ops")
        .then((fresh) => (setOps(fresh), setError("")))
        .catch((failed) => setError(String(failed)));
    void load();
    const timer = setInterval(load, 5000);
    return () => clearInterval(timer);
  }, [token]);
  return (
    <div class="ops" id="ops" data-loaded={String(ops !== null)}>
      <header class="row">
        <h1>youmeyou · operations</h1>
        <input
          id="token"
          type="password"
          placeholder="Admin bearer token (when auth is on)"
          value={token}
          onChange={(e) => (localStorage.setItem("youmeyou.opsToken", e.currentTarget.value), setToken(e.currentTarget.value))}
        />
        <a href="/ui">canvas</a>
      </header>
      {error ? <p id="error" role="alert">{error}</p> : null}
      {ops ? <Dashboard ops={ops} /> : null}
      {ops ? <p class="quiet">As of {ops.generatedAt}</p> : null}
    </div>
  );
}

const root = document.getElementById("app");
if (root) render(<OpsApp />, root);
