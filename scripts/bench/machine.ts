/**
 * The description of the machine a bench ran on, for the report.
 *
 * @module
 */
import { readProcFile } from "./proc.ts";

/** What the report says about the machine. */
export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memoryGb: number;
  kernel: string;
  deno: string;
  /** `/proc/loadavg`'s first three fields when the bench started: the machine may be shared. */
  loadAverage: string;
}

async function readText(path: string): Promise<string> {
  try {
    return await readProcFile(path);
  } catch {
    return "";
  }
}

/** Read nproc, CPU model, memory, kernel, Deno version and load from /proc and Deno. */
export async function describeMachine(): Promise<MachineInfo> {
  const cpuModel =
    (await readText("/proc/cpuinfo")).match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ??
      "unknown";
  return {
    nproc: navigator.hardwareConcurrency,
    cpuModel,
    memoryGb: Deno.systemMemoryInfo().total / 1024 ** 3,
    kernel: `${Deno.build.os} ${Deno.osRelease()}`,
    deno: Deno.version.deno,
    loadAverage: (await readText("/proc/loadavg")).split(" ").slice(0, 3).join(" ") || "unknown",
  };
}
