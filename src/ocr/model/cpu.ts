/**
 * The CPU features that decide how the int8 models compute: read once from /proc/cpuinfo, shown in
 * `/workers/status` and the bench's header so runs on different machines can be told apart.
 */
import { readFileSync } from 'node:fs';
import { arch, cpus } from 'node:os';
import type { CpuInfo } from '../../contracts.ts';

/**
 * The flags that matter here: AVX2 and AVX-512 widen the kernels; VNNI (avx512_vnni, avx_vnni) and
 * AMX multiply uint8 by int8 without 16-bit saturation; asimddp and i8mm are ARM's dot products.
 */
const RELEVANT = ['avx2', 'avx512f', 'avx512_vnni', 'avx_vnni', 'amx_int8', 'asimddp', 'i8mm'] as const;

/** The CPU's model and its relevant flags, from the text of /proc/cpuinfo (empty when unreadable). */
export function parseCpuInfo(cpuinfo: string, model: string): CpuInfo {
  const flags = new Set(/^(?:flags|Features)\s*:(.*)$/m.exec(cpuinfo)?.[1]?.trim().split(/\s+/) ?? []);
  return { model, features: RELEVANT.filter((f) => flags.has(f)) };
}

let machine: CpuInfo | undefined;

/** This machine's CPU (read once). */
export function cpuInfo(): CpuInfo {
  if (!machine) {
    let text = '';
    try {
      text = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      // Not Linux: no flags to show, and weightBits below falls back to the safe choice.
    }
    machine = parseCpuInfo(text, cpus()[0]?.model.trim() ?? 'unknown CPU');
  }
  return machine;
}

/** 8 where the CPU multiplies uint8 by int8 without 16-bit saturation (VNNI or AMX on x86; ARM's dot products), else 7. */
export function cpuWeightBits(cpu: CpuInfo = cpuInfo(), architecture = arch()): 7 | 8 {
  if (architecture !== 'x64') return 8;
  return cpu.features.some((f) => f === 'avx512_vnni' || f === 'avx_vnni' || f === 'amx_int8') ? 8 : 7;
}

/**
 * Whether wide pointwise convolutions run faster through onnxruntime's int8 GEMM than through its
 * symmetric convolution kernels (QuantizeOptions.pointwiseGemm): measured on an Intel Xeon with AMX,
 * whose tile unit the GEMM uses; elsewhere the convolution kernels stay.
 */
export function cpuPointwiseGemm(cpu: CpuInfo = cpuInfo(), architecture = arch()): boolean {
  return architecture === 'x64' && cpu.features.includes('amx_int8');
}

/** One line for people: "AMD EPYC: avx2 avx512f avx512_vnni avx_vnni". */
export function describeCpu(cpu: CpuInfo): string {
  return `${cpu.model}: ${cpu.features.length > 0 ? cpu.features.join(' ') : 'none of avx2, avx512f, vnni'}`;
}
