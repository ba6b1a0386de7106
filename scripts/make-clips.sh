#!/bin/sh
# Generates the simulator's sample clips (run once; the outputs are committed under assets/clips).
# Every clip: 10 s, 15 fps (150 frames), a keyframe every 15 frames (closed GOPs), no B-frames so
# decode order = presentation order, parameter sets repeated on every keyframe so any second of a
# looped clip can start a stream. A burnt-in frame counter makes frame mix-ups visible.
# The Motion-JPEG clip differs: 640x480, 5 fps (50 frames, every one a keyframe), baseline 4:2:0
# with the standard Huffman tables (RFC 2435 receivers rebuild the JPEG headers with those), about
# 1 MB; the frames are concatenated JPEG files.
set -eu
out="$(dirname "$0")/../assets/clips"
mkdir -p "$out"
src() { # $1 = WxH, $2 = fps (default 15)
  echo "testsrc2=size=$1:rate=${2:-15}:duration=10,drawtext=text='%{frame_num}':start_number=0:x=20:y=20:fontsize=48:fontcolor=white:box=1:boxcolor=black"
}
ffmpeg -hide_banner -loglevel error -y -f lavfi -i "$(src 1920x1080)" -pix_fmt yuv420p \
  -c:v libx264 -profile:v high -preset veryfast -b:v 1000k -maxrate 1200k -bufsize 1000k \
  -g 15 -keyint_min 15 -sc_threshold 0 -bf 0 -x264-params repeat-headers=1:open-gop=0:aud=0 \
  -f h264 "$out/front-door-1080p-h264.h264"
ffmpeg -hide_banner -loglevel error -y -f lavfi -i "$(src 1280x720)" -pix_fmt yuv420p \
  -c:v libx265 -preset veryfast -b:v 500k \
  -x265-params keyint=15:min-keyint=15:scenecut=0:bframes=0:repeat-headers=1:open-gop=0:log-level=error \
  -f hevc "$out/parking-720p-h265.h265"
ffmpeg -hide_banner -loglevel error -y -f lavfi -i "$(src 800x600)" -pix_fmt yuv420p \
  -c:v mpeg4 -b:v 500k -g 15 -bf 0 \
  -f m4v "$out/warehouse-600p-mpeg4.m4v"
ffmpeg -hide_banner -loglevel error -y -f lavfi -i "$(src 640x480 5)" -pix_fmt yuvj420p \
  -c:v mjpeg -huffman default -q:v 10 \
  -f mjpeg "$out/loading-dock-480p-jpeg.mjpeg"
# Low bitrate (sim --quality low, the many-channel scale bench): 640x360 H.264 at ~256 kbit/s,
# otherwise like the front-door clip.
ffmpeg -hide_banner -loglevel error -y -f lavfi -i "$(src 640x360)" -pix_fmt yuv420p \
  -c:v libx264 -profile:v main -preset veryfast -b:v 256k -maxrate 300k -bufsize 256k \
  -g 15 -keyint_min 15 -sc_threshold 0 -bf 0 -x264-params repeat-headers=1:open-gop=0:aud=0 \
  -f h264 "$out/low-360p-h264.h264"
ls -l "$out"
