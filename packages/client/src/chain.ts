// Bootstrap chains (issue 15): is an artifact reproduced, and were the tools that built it (its build inputs:
// a compiler, a base image, a toolchain tarball) themselves reproduced or declared roots of trust, all the
// way down? Pure: the evidence for a set of digests comes from a callback (a batch lookup proven against ONE
// checkpoint, in the client); this file walks the graph, finds cycles (a compiler built by itself, the
// trusting-trust case: reported, never looped), applies the depth limit and names the weakest link.

/** A build input named by an attestation: `resolvedDependencies` other than the source commit. */
export interface BuildInput {
  name: string
  /** `<alg>:<hex>`. */
  digest: string
}

/** What the log says, under the policy, about one digest. */
export interface ArtifactEvidence {
  /** Distinct parties of the policy that reproduced it. */
  count: number
  threshold: number
  /** Conflicting attestations by trusted parties (same commit and subject name, another digest). */
  conflicts: number
  /** A root party attested it (an upstream that attests its own releases). */
  attestedByRoot: boolean
  /**
   * The build inputs each counted party's attestations name: one item per counted entry (`entry`, its log
   * index), or per party.
   */
  inputsByParty: { party: string; entry?: number; inputs: BuildInput[] }[]
}

export interface ChainPolicy {
  /** Artifacts trusted without reproduction. */
  roots: { name: string; digest: string }[]
  /**
   * Distinct build-input sets the parties counted for the artifact itself must have used (diverse
   * double-compiling); default 1. Its build inputs are reported, not held to it: requiring it at every
   * level would ask for a second bootstrap of every compiler.
   */
  minDistinctToolchains?: number
  /** How many levels of build inputs below the artifact are checked (default 8). */
  depth?: number
}

export type ChainVerdict =
  'root' | 'reproduced' | 'too-few' | 'too-few-toolchains' | 'conflict' | 'cycle' | 'beyond-depth'

export interface ChainNode {
  /** The node's digest (one node per digest). */
  digest: string
  name: string
  /** Levels below the artifact of its first (shallowest) occurrence. */
  depth: number
  verdict: ChainVerdict
  count?: number
  threshold?: number
  conflicts?: number
  /** Distinct build-input sets among the counted parties. */
  toolchains?: number
  /** For a root: which root of the policy it is (its name there, and the party for a root by party). */
  rootName?: string
  /** The evidence: the counted entries (or parties) and the build inputs each names. */
  evidence?: ArtifactEvidence['inputsByParty']
  /** True when this node and everything below it hold. */
  ok: boolean
}

export interface ChainEdge {
  from: string
  to: string
  /** The input's name in the attestation. */
  name: string
  /** This edge closes a cycle (the input is one of its own ancestors). */
  cycle: boolean
}

export interface ChainAnswer {
  ok: boolean
  root: string
  nodes: ChainNode[]
  edges: ChainEdge[]
  /** The shallowest node that breaks the chain (undefined when ok). */
  weakest?: ChainNode
}

export const DEFAULT_CHAIN_DEPTH = 8

/**
 * Distinct build-input sets (each a sorted set of digests) the counted parties used, at most one per party:
 * a party with several attestations (say, built once with each of two compilers) may stand for any one of
 * its sets, and the answer is the most parties that can each stand for a different set (a maximum matching,
 * so that one party alone never makes two toolchains).
 */
export function distinctToolchains(inputsByParty: ArtifactEvidence['inputsByParty']): number {
  const setsOf = new Map<string, Set<string>>()
  for (const item of inputsByParty) {
    const key = [...new Set(item.inputs.map((i) => i.digest))].sort().join(' ')
    const sets = setsOf.get(item.party) ?? new Set<string>()
    sets.add(key)
    setsOf.set(item.party, sets)
  }
  // Kuhn's augmenting paths: parties on one side, sets on the other.
  const holder = new Map<string, string>()
  const assign = (party: string, tried: Set<string>): boolean => {
    for (const set of setsOf.get(party)!) {
      if (tried.has(set)) continue
      tried.add(set)
      const other = holder.get(set)
      if (other === undefined || assign(other, tried)) {
        holder.set(set, party)
        return true
      }
    }
    return false
  }
  let matched = 0
  for (const party of setsOf.keys()) if (assign(party, new Set())) matched++
  return matched
}

/**
 * Walks the chain below `artifact`, level by level (one `evidence` call per level, for every digest new at
 * that level), to `policy.depth` levels of build inputs.
 */
export async function evaluateChain(
  artifact: BuildInput,
  policy: ChainPolicy,
  evidence: (digests: string[]) => Promise<Map<string, ArtifactEvidence>>,
): Promise<ChainAnswer> {
  const maxDepth = policy.depth ?? DEFAULT_CHAIN_DEPTH
  const roots = new Set(policy.roots.map((r) => r.digest))
  const minToolchains = policy.minDistinctToolchains ?? 1
  const nodes = new Map<string, ChainNode>()
  const found = new Map<string, ArtifactEvidence>()
  const children = new Map<string, BuildInput[]>()

  const place = (input: BuildInput, depth: number) => {
    if (nodes.has(input.digest)) return false
    nodes.set(input.digest, { digest: input.digest, name: input.name, depth, verdict: 'too-few', ok: false })
    return true
  }
  place(artifact, 0)
  let level = [artifact.digest]
  for (let depth = 0; level.length > 0; depth++) {
    const ask = level.filter((digest) => !roots.has(digest))
    const answers = ask.length > 0 ? await evidence(ask) : new Map<string, ArtifactEvidence>()
    const next: string[] = []
    for (const digest of level) {
      const node = nodes.get(digest)!
      if (roots.has(digest)) {
        node.verdict = 'root'
        continue
      }
      const e = answers.get(digest)
      if (e === undefined) throw new Error(`no evidence for ${digest}`)
      found.set(digest, e)
      node.count = e.count
      node.threshold = e.threshold
      node.conflicts = e.conflicts
      node.toolchains = distinctToolchains(e.inputsByParty)
      node.evidence = e.inputsByParty
      // A conflict is reported even when a root party attested the artifact: two trusted parties disagree.
      if (e.conflicts > 0) node.verdict = 'conflict'
      else if (e.attestedByRoot) node.verdict = 'root'
      else if (e.count < e.threshold) node.verdict = 'too-few'
      else if (depth === 0 && node.toolchains < minToolchains) node.verdict = 'too-few-toolchains'
      else node.verdict = 'reproduced'
      if (node.verdict !== 'reproduced') continue
      // The inputs of every counted party's attestations, each once, by the first name it was given.
      const inputs = new Map<string, BuildInput>()
      for (const party of e.inputsByParty)
        for (const input of party.inputs) if (!inputs.has(input.digest)) inputs.set(input.digest, input)
      children.set(digest, [...inputs.values()])
      for (const input of inputs.values()) {
        if (!place(input, depth + 1)) continue
        if (depth + 1 > maxDepth && !roots.has(input.digest))
          nodes.get(input.digest)!.verdict = 'beyond-depth'
        else next.push(input.digest)
      }
    }
    level = next
  }

  // Edges, with cycles marked on the way down from the artifact (a path that meets one of its ancestors).
  const edges: ChainEdge[] = []
  const cyclic = new Set<string>()
  const onPath = new Set<string>()
  const seen = new Set<string>()
  const visit = (digest: string) => {
    onPath.add(digest)
    seen.add(digest)
    for (const input of children.get(digest) ?? []) {
      const cycle = onPath.has(input.digest)
      edges.push({ from: digest, to: input.digest, name: input.name, cycle })
      if (cycle) cyclic.add(input.digest)
      else if (!seen.has(input.digest)) visit(input.digest)
    }
    onPath.delete(digest)
  }
  visit(artifact.digest)
  for (const digest of cyclic) nodes.get(digest)!.verdict = 'cycle'

  // ok, bottom-up: a root holds; a reproduced node holds when all its inputs do (memoised; a cycle never does).
  const memo = new Map<string, boolean>()
  const holds = (digest: string, path: Set<string>): boolean => {
    const cached = memo.get(digest)
    if (cached !== undefined) return cached
    const node = nodes.get(digest)!
    let ok: boolean
    if (node.verdict === 'root') ok = true
    else if (node.verdict !== 'reproduced' || path.has(digest)) ok = false
    else {
      path.add(digest)
      ok = (children.get(digest) ?? []).every((input) => holds(input.digest, path))
      path.delete(digest)
    }
    memo.set(digest, ok)
    node.ok = ok
    return ok
  }
  const ok = holds(artifact.digest, new Set())
  for (const node of nodes.values()) if (!memo.has(node.digest)) holds(node.digest, new Set())
  const ordered = [...nodes.values()].sort((a, b) => a.depth - b.depth)
  const weakest = ok
    ? undefined
    : (ordered.find((node) => node.verdict !== 'root' && node.verdict !== 'reproduced') ??
      ordered.find((node) => !node.ok))
  return { ok, root: artifact.digest, nodes: ordered, edges, ...(weakest !== undefined && { weakest }) }
}

const VERDICT_TEXT: Record<ChainVerdict, (node: ChainNode) => string> = {
  root: (n) => `root of trust${n.rootName !== undefined ? `: ${n.rootName}` : ''}`,
  reproduced: (n) =>
    `reproduced by ${n.count} of ${n.threshold} parties${n.toolchains! > 1 ? `, ${n.toolchains} toolchains` : ''}`,
  'too-few': (n) => `too few: ${n.count ?? 0} of ${n.threshold ?? '?'} parties`,
  'too-few-toolchains': (n) => `too few toolchains: ${n.toolchains} distinct build-input sets`,
  conflict: (n) => `CONFLICT: ${n.conflicts} conflicting attestations`,
  cycle: () => 'cycle: built by itself (trusting trust); not followed',
  'beyond-depth': () => 'beyond the depth limit',
}

/** The chain as an indented tree for people; a node seen before is named, not repeated. */
export function renderChainTree(answer: ChainAnswer): string {
  const nodes = new Map(answer.nodes.map((n) => [n.digest, n]))
  const lines: string[] = []
  const shown = new Set<string>()
  const line = (digest: string, name: string, indent: string, cycle: boolean) => {
    const node = nodes.get(digest)!
    const mark = node.ok ? 'ok ' : 'NO '
    const text = cycle ? VERDICT_TEXT.cycle(node) : VERDICT_TEXT[node.verdict](node)
    const again = shown.has(digest) && !cycle ? ' (see above)' : ''
    lines.push(`${indent}${mark}${name}  ${digest}  ${text}${again}`)
    if (cycle || shown.has(digest)) return
    shown.add(digest)
    for (const edge of answer.edges.filter((e) => e.from === digest))
      line(edge.to, edge.name, `${indent}  `, edge.cycle)
  }
  line(answer.root, nodes.get(answer.root)!.name, '', false)
  lines.push(
    answer.ok
      ? 'chain ok: every path ends in a root of trust or a reproduced artifact'
      : `chain NOT ok: weakest link ${answer.weakest!.name} (${answer.weakest!.digest}): ${VERDICT_TEXT[answer.weakest!.verdict](answer.weakest!)}`,
  )
  return lines.join('\n') + '\n'
}

/** The chain in Graphviz DOT. */
export function chainToDot(answer: ChainAnswer): string {
  const quote = (text: string) => JSON.stringify(text)
  const out = ['digraph chain {', '  rankdir=TB;', '  node [shape=box];']
  for (const node of answer.nodes) {
    const label = `${node.name}\n${node.digest.slice(0, 19)}…\n${VERDICT_TEXT[node.verdict](node)}`
    out.push(`  ${quote(node.digest)} [label=${quote(label)}, color=${node.ok ? 'darkgreen' : 'red'}];`)
  }
  for (const edge of answer.edges) {
    out.push(
      `  ${quote(edge.from)} -> ${quote(edge.to)} [label=${quote(edge.name)}${edge.cycle ? ', style=dashed, color=red' : ''}];`,
    )
  }
  out.push('}')
  return out.join('\n') + '\n'
}
