import {
  chainToDot,
  renderChainTree,
  verifyChain,
  type LedgerClient,
  type TrustPolicy,
  type VerifiedChain,
} from '@ledger/client'
import { parseCheckpoint, parseSignedNote } from '@ledger/tlog'
import { toJSON } from '../context.js'
import { EXIT, type ExitCode } from '../exit-codes.js'
import type { Io } from '../io.js'

export interface VerifyChainOptions {
  digest: string
  name?: string
  commit?: string
  threshold?: number
  depth?: number
  json?: boolean
  dot?: boolean
}

/**
 * `attest verify --chain`: the artifact and, recursively, the build inputs its counted attestations name,
 * each a root of the policy or reproduced, to `--depth` levels, all proven against one checkpoint
 * (verifyChain). Exit 0 only when every path ends in a root or a reproduced artifact within the depth, 1
 * otherwise. Output: a tree for people whose last line names the weakest link, `--json` (nodes and edges)
 * or `--dot` (Graphviz).
 */
export async function verifyChainCommand(
  io: Io,
  client: LedgerClient,
  policy: TrustPolicy,
  opts: VerifyChainOptions,
): Promise<ExitCode> {
  const chain = await verifyChain({
    client,
    policy,
    digest: opts.digest,
    ...(opts.name !== undefined && { name: opts.name }),
    ...(opts.commit !== undefined && { commit: opts.commit }),
    ...(opts.threshold !== undefined && { threshold: opts.threshold }),
    ...(opts.depth !== undefined && { depth: opts.depth }),
  })
  if (opts.dot === true) io.stdout.write(chainToDot(chain))
  else if (opts.json === true) io.stdout.write(toJSON(chainJSON(chain)))
  else io.stdout.write(formatChain(chain))
  return chain.ok ? EXIT.OK : EXIT.NEGATIVE
}

/** `--json`: the answer, nodes and edges, the weakest link, the toolchain diversity and the checkpoint. */
export function chainJSON(chain: VerifiedChain): unknown {
  const top = chain.nodes.find((n) => n.digest === chain.root)!
  return {
    ok: chain.ok,
    artifact: { name: top.name, digest: chain.root },
    threshold: chain.threshold,
    depth: chain.depth,
    toolchains: chain.toolchains,
    minDistinctToolchains: chain.minDistinctToolchains,
    ...(chain.weakest !== undefined && {
      weakest: { name: chain.weakest.name, digest: chain.weakest.digest, verdict: chain.weakest.verdict },
    }),
    nodes: chain.nodes,
    edges: chain.edges,
    // Empty only when the artifact is itself a root by digest: then the log was not asked.
    ...(chain.checkpoint !== '' && { checkpoint: chain.checkpoint }),
  }
}

/** The tree for people; the last line is the verdict, naming the weakest link. */
export function formatChain(chain: VerifiedChain): string {
  const lines = renderChainTree(chain).trimEnd().split('\n')
  const summary = lines.pop()!
  const top = chain.nodes.find((n) => n.digest === chain.root)!
  lines.push('')
  if (top.evidence !== undefined) {
    const parties = new Set(top.evidence.map((e) => e.party)).size
    lines.push(
      `toolchain diversity: the ${parties} part${parties === 1 ? 'y' : 'ies'} counted for ${top.name} used ` +
        `${chain.toolchains} distinct build-input set${chain.toolchains === 1 ? '' : 's'}` +
        (chain.minDistinctToolchains > 1 ? ` (the policy asks for ${chain.minDistinctToolchains})` : ''),
    )
  }
  if (chain.checkpoint !== '') {
    const cp = parseCheckpoint(parseSignedNote(chain.checkpoint).text)
    lines.push(
      `every level (to depth ${chain.depth}, ${chain.threshold} parties each) proven against the checkpoint ` +
        `of ${cp.origin} at tree size ${cp.size}`,
    )
  }
  lines.push(summary)
  return `${lines.join('\n')}\n`
}
