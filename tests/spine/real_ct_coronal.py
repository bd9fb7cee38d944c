#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
# A coronal maximum-intensity projection that follows the spine: on each slice the rows from
# FRONT to BACK mm of the body centre found by spinemet-spine-inspect --slices (saved as
# NAME.slices), HALF mm either side: the posterior rib arcs and where they leave the column
# (docs/spine.md, "Real-CT reference"). Reads NAME.npy / NAME_z.npy as real_ct_sagittal.py does.
# usage: real_ct_coronal.py NAME FRONT:BACK HALF PIXELS_PER_MM OUT.png
import sys
import numpy as np
from PIL import Image, ImageDraw
name=sys.argv[1]; front,back=[float(v) for v in sys.argv[2].split(':')]; half=float(sys.argv[3]); scale=float(sys.argv[4]); out=sys.argv[5]
vol=np.load('%s.npy'%name); z=np.load('%s_z.npy'%name)
ps={'thorax-4dct':0.9765625,'chest-lidc-0314':0.78125,'abdomen-crlm-1006':0.804688}[name]
L=[l.split() for l in open('%s.slices'%name)]
dz=abs(z[1]-z[0]); hw=int(half/ps)
rows=[]; lastc=None
cs=[float(l[11]) for l in L]; rs=[float(l[12]) for l in L]
valid=[i for i in range(len(L)) if cs[i]>0]
img=np.zeros((len(z),2*hw))
for s in range(len(z)):
    i=min(valid,key=lambda k:abs(k-s)); c=int(round(cs[i])); r=int(round(rs[i]))
    img[s]=vol[s][r+int(front/ps):r+int(back/ps), c-hw:c+hw].max(0)
img=np.clip((img-150)/850*255,0,255).astype(np.uint8)[::-1]
im=Image.fromarray(img).resize((int(2*hw*ps*scale), int(len(z)*dz*scale)),Image.BILINEAR).convert('RGB')
d=ImageDraw.Draw(im)
for zv in np.arange(np.ceil(z.min()/10)*10, z.max()+0.1, 10):
    y=(z.max()+dz/2-zv)*scale
    d.line([(0,y),(10,y)],fill=(255,0,0)); d.text((12,y-5),'%d'%zv,fill=(255,255,0))
im.save(out); print(im.size)
