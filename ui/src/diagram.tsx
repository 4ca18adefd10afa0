// architecture.canvas.json drawn as an SVG graph, laid out by dagre (a layered layout: the
// positions in the artifact are the specialist's columns, which cross edges on real systems).
import dagre from "@dagrejs/dagre";

export interface CanvasNode {
  id: string;
  label: string;
  type: string;
  description?: string;
}

export interface CanvasEdge {
  id: string;
  source: string;
  target: string;
  label?: string;
}

export interface CanvasDocument {
  nodes: CanvasNode[];
  edges: CanvasEdge[];
}

interface Placed {
  nodes: { node: CanvasNode; x: number; y: number; width: number; height: number }[];
  edges: { edge: CanvasEdge; points: { x: number; y: number }[]; label?: { x: number; y: number } }[];
  width: number;
  height: number;
}

const NODE_HEIGHT = 46;
const CHAR_WIDTH = 7.4;
const MIN_SCALE = 0.8;

function nodeWidth(node: CanvasNode): number {
  return Math.max(120, Math.round(Math.max(node.label.length, node.type.length + 2) * CHAR_WIDTH) + 28);
}

export function layout(doc: CanvasDocument): Placed {
  const graph = new dagre.graphlib.Graph({ multigraph: true });
  graph.setGraph({ rankdir: "LR", nodesep: 16, ranksep: 56, marginx: 12, marginy: 12 });
  graph.setDefaultEdgeLabel(() => ({}));
  const known = new Set(doc.nodes.map((n) => n.id));
  for (const node of doc.nodes) graph.setNode(node.id, { width: nodeWidth(node), height: NODE_HEIGHT });
  const edges = doc.edges.filter((e) => known.has(e.source) && known.has(e.target));
  for (const edge of edges) {
    const label = edge.label ? { width: edge.label.length * 6.2, height: 14, labelpos: "c" } : {};
    graph.setEdge(edge.source, edge.target, label, edge.id);
  }
  dagre.layout(graph);
  const meta = graph.graph();
  return {
    width: meta.width ?? 0,
    height: meta.height ?? 0,
    nodes: doc.nodes.map((node) => {
      const placed = graph.node(node.id);
      return { node, x: placed.x, y: placed.y, width: placed.width, height: placed.height };
    }),
    edges: edges.map((edge) => {
      const placed = graph.edge({ v: edge.source, w: edge.target, name: edge.id });
      const label = placed.x === undefined ? undefined : { x: placed.x as number, y: placed.y as number };
      return { edge, points: placed.points, label };
    }),
  };
}

function path(points: { x: number; y: number }[]): string {
  return points.map((p, i) => `${i ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
}

export function Diagram({ doc }: { doc: CanvasDocument }) {
  const placed = layout(doc);
  return (
    <svg
      class="diagram"
      role="img"
      aria-label={`System diagram: ${doc.nodes.length} components, ${doc.edges.length} connections`}
      viewBox={`0 0 ${Math.max(placed.width, 1)} ${Math.max(placed.height, 1)}`}
      width={placed.width}
      // Scaled to the pane, but never below legibility: past that the pane scrolls.
      style={{ minWidth: `${Math.round(placed.width * MIN_SCALE)}px` }}
      preserveAspectRatio="xMidYMin meet"
    >
      <defs>
        <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M0,0 L10,5 L0,10 z" class="arrowhead" />
        </marker>
      </defs>
      {placed.edges.map(({ edge, points, label }) => (
        <g key={edge.id} class="edge" data-edge-id={edge.id}>
          <path d={path(points)} marker-end="url(#arrow)" />
          {label && edge.label ? (
            <text x={label.x} y={label.y + 4} text-anchor="middle">
              {edge.label}
            </text>
          ) : null}
        </g>
      ))}
      {placed.nodes.map(({ node, x, y, width, height }) => (
        <g key={node.id} class={`node node-${node.type}`} data-node-id={node.id} transform={`translate(${x - width / 2},${y - height / 2})`}>
          <title>{node.description ?? node.label}</title>
          <rect width={width} height={height} rx="8" />
          <text x={width / 2} y="20" text-anchor="middle" class="label">
            {node.label}
          </text>
          <text x={width / 2} y="36" text-anchor="middle" class="kind">
            {node.type}
          </text>
        </g>
      ))}
    </svg>
  );
}
