// This side's camera and microphone in a call: which devices, which tracks, and which of them
// go to the other side. Kept apart from the page (call.js draws the controls and says what
// happened) and from the connection (peer.js puts the tracks on it), so each change of a
// device or a control goes through one place.
//
// The camera is on exactly while this side wants video: off, its light goes out too.

// The camera asked for: the chosen one, or any at a modest size (a face, light on the line).
function videoConstraints(id) {
  return id ? { deviceId: { exact: id } } : { width: { ideal: 640 }, height: { ideal: 480 } };
}

export class LocalMedia {
  // onDeviceError: called when a camera or microphone cannot be had (refused, gone, in use).
  constructor({ onDeviceError }) {
    this.onDeviceError = onDeviceError;
    this.audio = null; // the microphone track
    this.video = null; // the camera track (null while the camera is off)
    this.micOn = true;
    this.cameraOn = true;
    this.audioOnly = false; // this side chose audio only: no video either way
    this.otherAudioOnly = false; // the other side chose audio only: send them no video
    this.cameraId = "";
    this.micId = "";
    // What this side sees of itself: the camera track while there is one.
    this.preview = new MediaStream();
  }

  wantVideo() {
    return this.cameraOn && !this.audioOnly;
  }

  sendsVideo() {
    return this.wantVideo() && !this.otherAudioOnly;
  }

  // The tracks the other side gets now: none for a muted microphone or an unwanted video.
  outgoing() {
    return {
      audio: this.micOn ? this.audio : null,
      video: this.sendsVideo() ? this.video : null,
    };
  }

  // What the other side is told of this side: sound, picture, and the audio-only choice.
  status() {
    return {
      audio: this.micOn && Boolean(this.audio),
      video: this.wantVideo() && Boolean(this.video),
      audioOnly: this.audioOnly,
    };
  }

  // Ask for both at once, once. Whether it worked; without camera or microphone the call
  // still shows and hears the other side.
  async start() {
    let ok = true;
    try {
      const stream = await navigator.mediaDevices.getUserMedia({
        audio: true,
        video: videoConstraints(""),
      });
      this.audio = stream.getAudioTracks()[0] ?? null;
      this.video = stream.getVideoTracks()[0] ?? null;
      this.micId = this.audio?.getSettings().deviceId ?? "";
      this.cameraId = this.video?.getSettings().deviceId ?? "";
    } catch {
      ok = false;
      this.onDeviceError();
    }
    this.showPreview();
    return ok;
  }

  // The cameras and microphones there are; null when the browser will not tell.
  async devices() {
    let devices;
    try {
      devices = await navigator.mediaDevices.enumerateDevices();
    } catch {
      return null;
    }
    return {
      cameras: devices.filter((d) => d.kind === "videoinput"),
      microphones: devices.filter((d) => d.kind === "audioinput"),
    };
  }

  async capture(kind) {
    const id = kind === "audio" ? this.micId : this.cameraId;
    const constraints =
      kind === "audio" ? { audio: id ? { deviceId: { exact: id } } : true } : { video: videoConstraints(id) };
    const stream = await navigator.mediaDevices.getUserMedia(constraints);
    return stream.getTracks()[0];
  }

  // Another camera or microphone chosen. Whether a new track took the old one's place (a
  // camera chosen while it is off is only remembered, for when it goes on).
  async switchDevice(kind, deviceId) {
    if (kind === "audio") this.micId = deviceId;
    else this.cameraId = deviceId;
    if (kind === "video" && !this.wantVideo()) return false;
    try {
      const track = await this.capture(kind);
      const old = this[kind];
      this[kind] = track;
      if (kind === "audio") track.enabled = true;
      old?.stop();
    } catch {
      this.onDeviceError();
      return false;
    }
    this.showPreview();
    return true;
  }

  setMic(on) {
    this.micOn = on;
  }

  async setCamera(on) {
    this.cameraOn = on;
    await this.refreshCamera();
  }

  async setAudioOnly(on) {
    this.audioOnly = on;
    await this.refreshCamera();
  }

  // Whether the other side's audio-only choice changed (then what is sent must change too).
  setOtherAudioOnly(on) {
    if (this.otherAudioOnly === on) return false;
    this.otherAudioOnly = on;
    return true;
  }

  // The camera on or off as this side now wants it.
  async refreshCamera() {
    if (this.wantVideo() && !this.video) {
      try {
        this.video = await this.capture("video");
      } catch {
        this.cameraOn = false;
        this.onDeviceError();
      }
    } else if (!this.wantVideo() && this.video) {
      this.video.stop();
      this.video = null;
    }
    this.showPreview();
  }

  showPreview() {
    for (const track of this.preview.getTracks()) this.preview.removeTrack(track);
    if (this.video) this.preview.addTrack(this.video);
  }

  // The call is over: camera and microphone are released (their lights go out).
  stop() {
    for (const track of [this.audio, this.video]) track?.stop();
  }
}
