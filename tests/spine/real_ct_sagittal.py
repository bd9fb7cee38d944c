#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
# A sagittal (or coronal) reformat of a real CT, with patient z marked every 5 mm, to read discs
# and rib heads from (docs/spine.md, "Real-CT reference"). Reads NAME.npy / NAME_z.npy (HU
# volume caudal first, and slice z) made from the DICOM files with pydicom after dcmdjpls.
# usage: real_ct_sagittal.py NAME COLUMN ROW0:ROW1 Z0:Z1 PIXELS_PER_MM OUT.png [sag|cor]
import sys
import numpy as np
from PIL import Image, ImageDraw
name=sys.argv[1]; c=int(sys.argv[2]); x0,x1=[int(v) for v in sys.argv[3].split(':')]; za,zb=[float(v) for v in sys.argv[4].split(':')]
scale=float(sys.argv[5]); out=sys.argv[6]; mode=sys.argv[7] if len(sys.argv)>7 else 'sag'
vol=np.load('%s.npy'%name); z=np.load('%s_z.npy'%name)
ps={'thorax-4dct':0.9765625,'chest-lidc-0314':0.78125,'abdomen-crlm-1006':0.804688}[name]
dz=abs(z[1]-z[0])
sel=(z>=za)&(z<=zb); zs=z[sel]
if mode=='sag': img=vol[sel][:,x0:x1,c-2:c+3].mean(2)
else: img=vol[sel][:,c-2:c+3,x0:x1].mean(1)
img=np.clip((img+200)/1200*255,0,255).astype(np.uint8)[::-1]
pxmm=scale
im=Image.fromarray(img).resize((int((x1-x0)*ps*scale), int(len(zs)*dz*scale)),Image.BILINEAR).convert('RGB')
dr=ImageDraw.Draw(im)
for zv in np.arange(np.ceil(zs.min()/5)*5, zs.max()+0.1, 5):
    y=(zs.max()+dz/2-zv)*pxmm
    long_=zv%10==0
    dr.line([(0,y),(14 if long_ else 6,y)],fill=(255,0,0))
    if long_: dr.text((16,y-5),'%d'%zv,fill=(255,255,0))
im.save(out); print(im.size)
