// The connection of a call between its two participants: WebRTC, with signalling over the
// hall's live connection (call.signal, see docs/protocol.md and docs/video.md).
//
// Who does what: the advisor's page makes every offer (also to restart the connection); the
// candidate's page answers. Each side has a "peer" id: the candidate's page one per page
// load, the advisor's page one per peer connection it makes. A message for another id is for
// an earlier page or connection and is dropped; an offer from a new id means a new
// connection. So a reloaded page is recognised and the connection made again from scratch,
// and whatever got lost on the way, a connection that does not come up is simply made anew.
//
// All of one call's connection state lives in one CallConnection; the page learns what
// happens through the callbacks it gives (`on`), and nothing here touches the page.

import { isConnected, send } from "../live.js";

// A peer connection that is not connected this long after an offer gets a fresh one.
const STALL_MS = 8000;
// "disconnected" often heals by itself; after this long the connection is restarted.
const DISCONNECTED_MS = 2500;

function randomId() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class CallConnection {
  // token: the call's; offerer: whether this page makes the offers (the advisor's);
  // iceConfig: the RTCPeerConnection configuration; media: this side's LocalMedia;
  // on: the page's callbacks, each called when its name says:
  //   remoteStream(stream)  a new connection: the other side's picture and sound come in here
  //   remoteTrack()         a track of the other side arrived (time to play)
  //   change()              what state() answers may have changed
  //   connected()           the connection came up
  //   otherMedia(status)    the other side told its {audio, video, audioOnly}
  //   otherLeft()           the other side's page said goodbye
  //   ended()               the server says the call is over
  constructor({ token, offerer, iceConfig, media, on }) {
    this.token = token;
    this.offerer = offerer;
    this.iceConfig = iceConfig;
    this.media = media;
    this.on = on;
    this.pageId = randomId();
    this.generation = 0;
    this.peer = this.pageId; // this side's id, sent with every message
    this.pc = null;
    this.remotePeer = null; // the other side's id, once it said hello or offered
    this.remoteStream = null;
    this.queuedCandidates = [];
    this.offeredAt = 0;
    this.disconnectedTimer = null;
    this.ended = false;
    this.socketUp = false;
    this.lastBytes = { audio: 0, video: 0 };
  }

  // -- signalling ------------------------------------------------------------------------------

  async signal(kind, data = {}) {
    if (!isConnected() || this.ended) return;
    try {
      await send("call.signal", { token: this.token, kind, peer: this.peer, ...data });
    } catch (error) {
      if (error?.code === "call.ended" || error?.code === "call.not_found") this.on.ended();
    }
  }

  tellMedia() {
    if (!this.remotePeer) return;
    const { audio, video, audioOnly } = this.media.status();
    this.signal("media", { to: this.remotePeer, audio, video, audio_only: audioOnly });
  }

  // The hall's live connection went up or down: up, this page says hello (again).
  setSocket(up) {
    this.socketUp = up;
    if (up) this.signal("hello");
  }

  // -- the peer connection -----------------------------------------------------------------------

  newConnection() {
    this.closeConnection();
    const pc = new RTCPeerConnection(this.iceConfig);
    this.pc = pc;
    this.queuedCandidates = [];
    this.remoteStream = new MediaStream();
    this.on.remoteStream(this.remoteStream);
    pc.addEventListener("track", (event) => {
      if (pc !== this.pc) return;
      this.remoteStream.addTrack(event.track);
      this.on.remoteTrack();
    });
    pc.addEventListener("icecandidate", (event) => {
      if (pc !== this.pc || !this.remotePeer) return;
      if (!event.candidate) return;
      this.signal("candidate", {
        to: this.remotePeer,
        candidate: event.candidate.candidate,
        sdp_mid: event.candidate.sdpMid ?? "",
      });
    });
    pc.addEventListener("connectionstatechange", () => {
      if (pc === this.pc) this.connectionChanged();
    });
    pc.addEventListener("iceconnectionstatechange", () => {
      if (pc === this.pc) this.iceChanged();
    });
    if (this.offerer) {
      this.generation += 1;
      this.peer = `${this.pageId}-${this.generation}`;
      pc.addTransceiver("audio", { direction: "sendrecv" });
      pc.addTransceiver("video", { direction: "sendrecv" });
    }
    this.on.change();
  }

  closeConnection() {
    window.clearTimeout(this.disconnectedTimer);
    this.disconnectedTimer = null;
    if (this.pc) {
      this.pc.close();
      this.pc = null;
    }
  }

  // Put what this side sends on the connection's senders (no new negotiation needed).
  async applySenders() {
    if (!this.pc) return;
    for (const transceiver of this.pc.getTransceivers()) {
      const kind = transceiver.receiver.track?.kind;
      if (!kind || transceiver.stopped) continue;
      const track = this.media.outgoing()[kind] ?? null;
      if (transceiver.sender.track !== track) {
        try {
          await transceiver.sender.replaceTrack(track);
        } catch (error) {
          console.error("replaceTrack failed", error);
        }
      }
    }
  }

  async makeOffer({ iceRestart = false } = {}) {
    if (!this.offerer || !this.pc || !this.remotePeer || this.ended) return;
    if (this.pc.signalingState !== "stable") {
      // An offer is out. Still fresh: its answer may be on the way. Stale: start anew.
      if (Date.now() - this.offeredAt < STALL_MS) return;
      this.newConnection();
    }
    try {
      await this.applySenders();
      const offer = await this.pc.createOffer({ iceRestart });
      await this.pc.setLocalDescription(offer);
      this.offeredAt = Date.now();
      await this.signal("offer", { to: this.remotePeer, sdp: this.pc.localDescription.sdp });
    } catch (error) {
      console.error("offer failed", error);
    }
  }

  async takeOffer(from, sdp) {
    if (from !== this.remotePeer || !this.pc || this.pc.signalingState === "closed") {
      this.remotePeer = from;
      this.newConnection();
    }
    try {
      await this.pc.setRemoteDescription({ type: "offer", sdp });
      for (const transceiver of this.pc.getTransceivers()) transceiver.direction = "sendrecv";
      await this.applySenders();
      const answer = await this.pc.createAnswer();
      await this.pc.setLocalDescription(answer);
      await this.signal("answer", { to: this.remotePeer, sdp: this.pc.localDescription.sdp });
      await this.flushCandidates();
      this.tellMedia();
    } catch (error) {
      console.error("answer failed", error);
    }
  }

  async takeAnswer(from, sdp) {
    if (from !== this.remotePeer || !this.pc || this.pc.signalingState !== "have-local-offer") return;
    try {
      await this.pc.setRemoteDescription({ type: "answer", sdp });
      await this.flushCandidates();
    } catch (error) {
      console.error("setting the answer failed", error);
    }
  }

  async takeCandidate(from, candidate, sdpMid) {
    if (from !== this.remotePeer || !this.pc) return;
    const init = { candidate, sdpMid: sdpMid || "0" };
    if (!this.pc.remoteDescription) {
      this.queuedCandidates.push(init);
      return;
    }
    try {
      await this.pc.addIceCandidate(init);
    } catch (error) {
      console.error("candidate refused", error);
    }
  }

  async flushCandidates() {
    const queued = this.queuedCandidates;
    this.queuedCandidates = [];
    for (const init of queued) {
      try {
        await this.pc.addIceCandidate(init);
      } catch (error) {
        console.error("candidate refused", error);
      }
    }
  }

  // Start the connection again: the advisor's page with an ICE restart, the candidate's page
  // by asking the advisor's page for one.
  restart() {
    if (this.ended || !this.remotePeer) return;
    if (this.offerer) this.makeOffer({ iceRestart: true });
    else this.signal("restart", { to: this.remotePeer });
  }

  iceChanged() {
    const state = this.pc.iceConnectionState;
    if (state === "failed") {
      this.restart();
    } else if (state === "disconnected") {
      window.clearTimeout(this.disconnectedTimer);
      this.disconnectedTimer = window.setTimeout(() => {
        if (this.pc?.iceConnectionState === "disconnected") this.restart();
      }, DISCONNECTED_MS);
    }
    this.on.change();
  }

  connectionChanged() {
    if (this.pc.connectionState === "connected") {
      window.clearTimeout(this.disconnectedTimer);
      this.on.connected();
    } else if (this.pc.connectionState === "failed") {
      this.restart();
    }
    this.on.change();
  }

  // ended, waiting (for the other side), connecting, connected, or reconnecting.
  state() {
    if (this.ended) return "ended";
    if (!this.remotePeer || !this.pc) return this.socketUp ? "waiting" : "reconnecting";
    const state = this.pc.connectionState;
    if (state === "connected") return "connected";
    if (["disconnected", "failed"].includes(state)) return "reconnecting";
    if (!this.socketUp) return "reconnecting";
    return "connecting";
  }

  // Whatever got lost on the way (an offer to a page that was just reloading, an answer in a
  // dropped connection), a connection that does not come up is made anew.
  watch() {
    window.setInterval(() => {
      if (this.ended || !this.offerer || !this.pc || !this.remotePeer || !this.socketUp) return;
      if (this.pc.connectionState === "connected" || Date.now() - this.offeredAt < STALL_MS) return;
      this.newConnection();
      this.makeOffer();
    }, STALL_MS / 2);
  }

  // -- what the other side tells -----------------------------------------------------------------

  heard(data) {
    if (data.token !== this.token || this.ended) return;
    if (data.to && data.to !== this.peer) return; // for an earlier page of this participant
    switch (data.kind) {
      case "hello":
        this.otherArrived(data.peer, !data.to);
        break;
      case "offer":
        if (!this.offerer) this.takeOffer(data.peer, data.sdp);
        break;
      case "answer":
        if (this.offerer) this.takeAnswer(data.peer, data.sdp);
        break;
      case "candidate":
        if (data.candidate) this.takeCandidate(data.peer, data.candidate, data.sdp_mid);
        break;
      case "restart":
        if (this.offerer && data.peer === this.remotePeer) this.makeOffer({ iceRestart: true });
        break;
      case "media":
        this.otherMedia(data);
        break;
      case "bye":
        if (data.peer === this.remotePeer) {
          this.remotePeer = null;
          this.closeConnection();
          this.on.otherLeft();
          this.on.change();
        }
        break;
      default:
        break;
    }
  }

  // The other page said hello: a new page (first, or reloaded) gets a new connection; the
  // same page back on its live connection gets a restart if the connection is not up.
  otherArrived(from, answerBack) {
    if (answerBack) this.signal("hello", { to: from });
    if (from !== this.remotePeer) {
      this.remotePeer = from;
      this.media.setOtherAudioOnly(false);
      this.newConnection();
      if (this.offerer) this.makeOffer();
    } else if (this.pc && ["disconnected", "failed"].includes(this.pc.connectionState)) {
      this.restart();
    }
    this.tellMedia();
    this.on.change();
  }

  otherMedia(data) {
    const audioOnly = Boolean(data.audio_only);
    this.on.otherMedia({ audio: Boolean(data.audio), video: Boolean(data.video), audioOnly });
    if (this.media.setOtherAudioOnly(audioOnly)) this.applySenders();
  }

  // -- the end ---------------------------------------------------------------------------------

  // The call is over: nothing more is sent or taken, and the connection closes.
  end() {
    this.ended = true;
    this.closeConnection();
  }

  // This page goes away: the other side hears so at once (not only when its connection stalls).
  leave() {
    if (this.remotePeer && isConnected()) {
      const bye = { token: this.token, kind: "bye", peer: this.peer, to: this.remotePeer };
      send("call.signal", bye).catch(() => {});
    }
    this.closeConnection();
  }

  // -- how the connection is doing: what the other side's media bring in ----------------------

  // What came in, per kind, and whether more came in since the last look; the share of
  // packets lost (null before any arrived). Null when there is no connection to ask.
  async readStats() {
    if (!this.pc || this.ended) return null;
    let report;
    try {
      report = await this.pc.getStats();
    } catch {
      return null;
    }
    const bytes = { audio: 0, video: 0 };
    let lost = 0;
    let received = 0;
    report.forEach((stat) => {
      if (stat.type !== "inbound-rtp" || !(stat.kind in bytes)) return;
      bytes[stat.kind] += stat.bytesReceived ?? 0;
      lost += stat.packetsLost ?? 0;
      received += stat.packetsReceived ?? 0;
    });
    const seen = {
      bytes,
      flowing: { audio: bytes.audio > this.lastBytes.audio, video: bytes.video > this.lastBytes.video },
      loss: received + lost > 0 ? lost / (received + lost) : null,
    };
    this.lastBytes = bytes;
    return seen;
  }
}
