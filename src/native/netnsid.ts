/**
 * NETNSID as lsns prints it: the id that the caller's (current) network namespace has assigned to
 * another network namespace, asked through rtnetlink RTM_GETNSID with a NETNSA_FD attribute.
 *
 * The query never assigns an id (the kernel only looks it up), so it has no side effect.
 * -1 (NETNSA_NSID_NOT_ASSIGNED) is reported as 'unassigned', the text lsns prints.
 */
import { errnoName } from './errno.js';
import { sysClose, withFd } from './fd.js';
import { callInt } from './loader.js';
import type { LibcPrototypes } from './prototypes.js';
import { fail, ok, type NativeResult } from './result.js';

const SOCKET_CALLS = {
  socket: 'int socket(int domain, int type, int protocol)',
  send: 'long send(int fd, const void *buf, unsigned long len, int flags)',
  recv: 'long recv(int fd, void *buf, unsigned long len, int flags)',
} as const satisfies LibcPrototypes;

export function sysSocket(domain: number, type: number, protocol: number): NativeResult<number> {
  return callInt(SOCKET_CALLS.socket, [domain, type, protocol]);
}

/** send(fd, buf, buf.length, flags): bytes sent. */
export function sysSend(fd: number, buf: Buffer, flags = 0): NativeResult<number> {
  return callInt(SOCKET_CALLS.send, [fd, buf, buf.length, flags]);
}

/** recv(fd, buf, buf.length, flags): bytes received (written into buf). */
export function sysRecv(fd: number, buf: Buffer, flags = 0): NativeResult<number> {
  return callInt(SOCKET_CALLS.recv, [fd, buf, buf.length, flags]);
}

export const AF_UNSPEC = 0;
export const AF_NETLINK = 16;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0o2000000;
export const NETLINK_ROUTE = 0;

export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const RTM_NEWNSID = 88;
export const RTM_GETNSID = 90;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const MSG_DONTWAIT = 0x40;

export const NETNSA_NSID = 1;
export const NETNSA_PID = 2;
export const NETNSA_FD = 3;
export const NETNSA_NSID_NOT_ASSIGNED = -1;

const NLMSG_HDRLEN = 16;
const align4 = (n: number): number => (n + 3) & ~3;

export type NetnsId = number | 'unassigned';

/** Build the RTM_GETNSID request: nlmsghdr + rtgenmsg(AF_UNSPEC) + NETNSA_FD(u32 fd). */
export function buildGetNsidRequest(nsFd: number, seq: number): Buffer {
  const payloadStart = NLMSG_HDRLEN;
  const attrStart = payloadStart + align4(1); // struct rtgenmsg { unsigned char rtgen_family; } padded
  const total = attrStart + 8;
  const buf = Buffer.alloc(total);
  buf.writeUInt32LE(total, 0); // nlmsg_len
  buf.writeUInt16LE(RTM_GETNSID, 4); // nlmsg_type
  buf.writeUInt16LE(NLM_F_REQUEST, 6); // nlmsg_flags
  buf.writeUInt32LE(seq >>> 0, 8); // nlmsg_seq
  buf.writeUInt32LE(0, 12); // nlmsg_pid
  buf.writeUInt8(AF_UNSPEC, payloadStart);
  buf.writeUInt16LE(8, attrStart); // rta_len
  buf.writeUInt16LE(NETNSA_FD, attrStart + 2); // rta_type
  buf.writeUInt32LE(nsFd >>> 0, attrStart + 4);
  return buf;
}

/**
 * Parse the kernel's answer: an RTM_NEWNSID carrying NETNSA_NSID (s32), or an NLMSG_ERROR with a
 * negative errno. Messages with another sequence number are skipped.
 */
export function parseGetNsidReply(buf: Buffer, seq: number): NativeResult<NetnsId> {
  return findGetNsidReply(buf, seq) ?? fail('EPROTO', 'netlink: no reply for RTM_GETNSID');
}

/** Like parseGetNsidReply, but null when buf holds no message with this sequence number. */
function findGetNsidReply(buf: Buffer, seq: number): NativeResult<NetnsId> | null {
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = buf.readUInt32LE(off);
    const type = buf.readUInt16LE(off + 4);
    const mseq = buf.readUInt32LE(off + 8);
    if (len < NLMSG_HDRLEN || off + len > buf.length) return fail('EPROTO', `netlink: bad message length ${len}`);
    if (mseq === seq >>> 0) {
      if (type === NLMSG_ERROR) {
        if (len < NLMSG_HDRLEN + 4) return fail('EPROTO', 'netlink: short NLMSG_ERROR');
        const err = -buf.readInt32LE(off + NLMSG_HDRLEN);
        if (err === 0) return fail('EPROTO', 'netlink: ACK without RTM_NEWNSID');
        const code = errnoName(err);
        return fail(code, `RTM_GETNSID: ${code}`, err);
      }
      if (type === RTM_NEWNSID) {
        let a = off + NLMSG_HDRLEN + align4(1);
        const end = off + len;
        while (a + 4 <= end) {
          const rtaLen = buf.readUInt16LE(a);
          const rtaType = buf.readUInt16LE(a + 2) & 0x3fff; // strip NLA_F_NESTED / NLA_F_NET_BYTEORDER
          if (rtaLen < 4 || a + rtaLen > end) break;
          if (rtaType === NETNSA_NSID && rtaLen >= 8) {
            const id = buf.readInt32LE(a + 4);
            return ok(id === NETNSA_NSID_NOT_ASSIGNED || id < 0 ? 'unassigned' : id);
          }
          a += align4(rtaLen);
        }
        return fail('EPROTO', 'RTM_NEWNSID without NETNSA_NSID');
      }
    }
    off += align4(len);
  }
  return null;
}

/**
 * A reusable rtnetlink socket for many NETNSID look-ups (one socket per scan instead of one per
 * namespace). The socket belongs to the network namespace of the thread that opened it, and ids
 * are those that namespace has assigned. Close it when done.
 */
export class NetnsIdQuery {
  private fd: number | null = null;
  private seq = 1;
  private readonly buf = Buffer.alloc(8192);

  private socket(): NativeResult<number> {
    if (this.fd !== null) return ok(this.fd);
    const s = sysSocket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (!s.ok) return s;
    this.fd = s.value;
    return s;
  }

  /** NETNSID of the network namespace open as nsFd. */
  idOfFd(nsFd: number): NativeResult<NetnsId> {
    const s = this.socket();
    if (!s.ok) return s;
    const seq = this.seq++ >>> 0;
    const req = buildGetNsidRequest(nsFd, seq);
    const sent = sysSend(s.value, req);
    if (!sent.ok) return sent;
    if (sent.value !== req.length) return fail('EIO', `netlink: short send ${sent.value}/${req.length}`);
    // rtnetlink answers RTM_GETNSID synchronously inside send(), so the reply is already queued:
    // MSG_DONTWAIT guarantees we never block the thread if something unexpected happens.
    for (let i = 0; i < 8; i++) {
      const r = sysRecv(s.value, this.buf, MSG_DONTWAIT);
      if (!r.ok) return r;
      const parsed = findGetNsidReply(this.buf.subarray(0, r.value), seq);
      if (parsed !== null) return parsed;
      // stale message for an older sequence number: read on
    }
    return fail('EPROTO', 'netlink: no reply for RTM_GETNSID');
  }

  /** NETNSID of the network namespace at path (nsfs file such as /proc/<pid>/ns/net or /run/netns/x). */
  idOf(path: string): NativeResult<NetnsId> {
    return withFd(path, (fd) => this.idOfFd(fd));
  }

  close(): void {
    if (this.fd !== null) {
      sysClose(this.fd);
      this.fd = null;
    }
  }
}

/** One-shot NETNSID of the network namespace at path (opens and closes a netlink socket). */
export function netnsId(path: string): NativeResult<NetnsId> {
  const q = new NetnsIdQuery();
  try {
    return q.idOf(path);
  } finally {
    q.close();
  }
}

/** One-shot NETNSID for an already-open fd of a network namespace. */
export function netnsIdFd(nsFd: number): NativeResult<NetnsId> {
  const q = new NetnsIdQuery();
  try {
    return q.idOfFd(nsFd);
  } finally {
    q.close();
  }
}

/** lsns's NETNSID cell text: the number, 'unassigned', or '' when it could not be read. */
export function netnsIdCell(r: NativeResult<NetnsId>): string {
  return r.ok ? String(r.value) : '';
}
