// The life of a service process: its configuration or --help, start, the lines it announces, and a clean
// stop on SIGTERM or SIGINT. Exit codes: 0 stopped cleanly, 1 failed to start or to stop, 2 bad usage.

export const EXIT_USAGE = 2

/** What a service's command line asks for: run with a configuration, or print the help text. */
export type ServiceRequest<C> = { kind: 'run'; config: C } | { kind: 'help'; text: string }

/**
 * Reads the configuration with `load`: prints the help text and returns undefined when asked, exits with
 * EXIT_USAGE (after a message on stderr) when the command line or environment is bad.
 */
export function configOrExit<C>(load: () => ServiceRequest<C>): C | undefined {
  let request: ServiceRequest<C>
  try {
    request = load()
  } catch (err) {
    console.error(`error: ${(err as Error).message}\n(see --help)`)
    process.exit(EXIT_USAGE)
  }
  if (request.kind === 'help') {
    process.stdout.write(request.text)
    return undefined
  }
  return request.config
}

export interface Service<C, R extends { close(): Promise<void> }> {
  load: () => ServiceRequest<C>
  start: (config: C) => Promise<R>
  /** The lines printed once it runs (tests that spawn a service read `listening <url>`). */
  announce: (running: R, config: C) => string[]
  /** What a stop signal is answered with, after `<SIGNAL>: `. */
  stopping: string
}

/** Runs a service until SIGTERM or SIGINT, then closes it and exits 0 (1 when closing failed). */
export async function runService<C, R extends { close(): Promise<void> }>(
  service: Service<C, R>,
): Promise<void> {
  const config = configOrExit(service.load)
  if (config === undefined) return
  let running: R
  try {
    running = await service.start(config)
  } catch (err) {
    console.error(`error: ${(err as Error).message}`)
    process.exit(1)
  }
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    console.log(`${signal}: ${service.stopping}`)
    running.close().then(
      () => {
        console.log('stopped')
        process.exit(0)
      },
      (err: unknown) => {
        console.error('error while stopping:', err)
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  // Announced only once a stop signal is handled: whoever reads `listening` may stop the service at once.
  for (const line of service.announce(running, config)) console.log(line)
}
